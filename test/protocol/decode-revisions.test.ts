import { describe, expect, test } from "vitest";
import { defaultProtocolLimits, type ProtocolLimits } from "../../stages/protocol.js";
import { decodeRequest } from "../../stages/protocol-decode.js";

type Frame = Record<string, unknown>;

function accepted(frame: Frame, limits?: ProtocolLimits) {
  const result = decodeRequest(JSON.stringify(frame), limits);
  if (!result.ok) throw new Error(`refused ${JSON.stringify(frame)}: ${result.error.message}`);
  return result.request;
}

/** The code and message of a refused frame. */
function refused(frame: Frame, limits?: ProtocolLimits): { code: string; message: string } {
  const result = decodeRequest(JSON.stringify(frame), limits);
  if (result.ok) throw new Error(`accepted ${JSON.stringify(frame)}`);
  expect(result.id).toBe(frame.id);
  return result.error;
}

const put = { op: "put", key: "a", value: "1" };

describe("protocol - revisions, range ops, txn, compact (CONTRACT §5)", () => {
  test("protocol - get/scan revision, scan keysOnly/countOnly, put prevKv are decoded", () => {
    expect(accepted({ id: 1, op: "get", key: "a", revision: 7 })).toMatchObject({ revision: 7 });
    expect(
      accepted({ id: 1, op: "scan", prefix: "p", revision: 0, keysOnly: true, countOnly: false }),
    ).toEqual({
      op: "scan",
      prefix: "p",
      revision: 0,
      keysOnly: true,
      limit: 10_000,
      consistency: "linearizable",
    });
    expect(accepted({ id: 1, ...put, prevKv: true })).toMatchObject({ prevKv: true });
  });

  test("protocol - a bad revision, keysOnly, countOnly or prevKv is BAD_REQUEST naming it", () => {
    for (const [frame, field] of [
      [{ id: 1, op: "get", key: "a", revision: -1 }, "revision"],
      [{ id: 1, op: "get", key: "a", revision: 1.5 }, "revision"],
      [{ id: 1, op: "scan", revision: "3" }, "revision"],
      [{ id: 1, op: "scan", keysOnly: 1 }, "keysOnly"],
      [{ id: 1, op: "scan", countOnly: "yes" }, "countOnly"],
      [{ id: 1, ...put, prevKv: "true" }, "prevKv"],
      [{ id: 1, op: "delete", key: "a", prevKv: 0 }, "prevKv"],
      [{ id: 1, op: "compact" }, "revision"],
      [{ id: 1, op: "compact", revision: -2 }, "revision"],
    ] as const) {
      const error = refused(frame);
      expect(error.code, JSON.stringify(frame)).toBe("BAD_REQUEST");
      expect(error.message).toContain(`"${field}"`);
    }
  });

  test("protocol - delete takes a key, or a prefix, or start/end, never both", () => {
    expect(accepted({ id: 1, op: "delete", prefix: "p/" })).toEqual({
      op: "delete",
      prefix: "p/",
    });
    expect(accepted({ id: 1, op: "delete", start: "a", end: "b", prevKv: true })).toEqual({
      op: "delete",
      start: "a",
      end: "b",
      prevKv: true,
    });
    expect(accepted({ id: 1, op: "delete", key: "k" })).toEqual({ op: "delete", key: "k" });
    expect(refused({ id: 1, op: "delete", key: "k", prefix: "p" }).code).toBe("BAD_REQUEST");
    expect(refused({ id: 1, op: "delete" }).message).toContain('"key"');
    expect(refused({ id: 1, op: "delete", prefix: 3 }).message).toContain('"prefix"');
    expect(refused({ id: 1, op: "delete", end: "x".repeat(5000) }).code).toBe("TOO_LARGE");
  });

  test("protocol - txn: compares and ops are decoded in the wire's shape", () => {
    const request = accepted({
      id: 1,
      op: "txn",
      compare: [
        { key: "a", target: "value", op: "==", value: "1" },
        { key: "a", target: "version", op: ">", value: 0 },
        { key: "a", target: "lease", op: "!=", value: null },
        { key: "a", target: "modRevision", op: "<", value: 9 },
      ],
      success: [
        { op: "put", key: "b", value: "2", prevKv: true },
        { op: "delete", prefix: "c/" },
        { op: "get", key: "b" },
      ],
      failure: [{ op: "scan", prefix: "a", limit: 5, keysOnly: true }],
      session: "s",
      seq: 1,
    });
    expect(request).toEqual({
      op: "txn",
      compare: [
        { key: "a", target: "value", op: "==", value: "1" },
        { key: "a", target: "version", op: ">", value: 0 },
        { key: "a", target: "lease", op: "!=", value: null },
        { key: "a", target: "modRevision", op: "<", value: 9 },
      ],
      success: [
        { op: "put", key: "b", value: "2", prevKv: true },
        { op: "delete", prefix: "c/" },
        { op: "get", key: "b" },
      ],
      failure: [{ op: "scan", prefix: "a", limit: 5, keysOnly: true }],
      session: "s",
      seq: 1,
    });
    expect(accepted({ id: 1, op: "txn" })).toEqual({
      op: "txn",
      compare: [],
      success: [],
      failure: [],
    });
  });

  test("protocol - a decoded request decodes again to itself (a follower forwards it so)", () => {
    for (const frame of [
      { op: "delete", prefix: "p", prevKv: true, session: "s", seq: 2 },
      { op: "delete", start: "a", end: "b" },
      { op: "scan", prefix: "p", revision: 3, keysOnly: true, countOnly: true, limit: 7 },
      { op: "get", key: "a", revision: 0 },
      { op: "compact", revision: 5 },
      {
        op: "txn",
        compare: [{ key: "a", target: "lease", op: "==", value: "12" }],
        success: [
          { op: "delete", start: "a", prevKv: true },
          { op: "scan", end: "z", countOnly: true },
        ],
        failure: [{ op: "delete", key: "b" }, put],
      },
    ]) {
      const once = accepted({ id: 1, ...frame });
      expect(accepted({ id: 1, ...once }), JSON.stringify(frame)).toEqual(once);
    }
  });

  test("protocol - txn: every bad field is BAD_REQUEST naming where it is", () => {
    const cases: [Frame, string][] = [
      [{ compare: {} }, '"compare"'],
      [{ success: "x" }, '"success"'],
      [{ compare: [1] }, "compare[0]"],
      [{ compare: [{ key: "a", target: "size", op: "==", value: 1 }] }, '"target"'],
      [{ compare: [{ key: "a", target: "value", op: "=", value: "1" }] }, '"op"'],
      [{ compare: [{ key: "a", target: "value", op: "==", value: 1 }] }, '"value"'],
      [{ compare: [{ key: "a", target: "version", op: "==", value: "1" }] }, '"value"'],
      [{ compare: [{ key: "a", target: "lease", op: "==", value: 5 }] }, '"value"'],
      // Past int64, as put's "lease" refuses it.
      [
        { compare: [{ key: "a", target: "lease", op: "==", value: "9223372036854775808" }] },
        '"value"',
      ],
      [{ compare: [{ key: "", target: "version", op: "==", value: 1 }] }, '"key"'],
      [{ success: [{ op: "incr", key: "a", delta: 1 }] }, "success[0]"],
      [{ success: [{ op: "txn", compare: 1 }] }, "success[0]"],
      [{ success: [{ op: "put", key: "a" }] }, '"value"'],
      [{ failure: [put, { op: "get", key: 3 }] }, "failure[1]"],
      [{ success: [{ ...put, revision: 3 }] }, '"revision"'],
      [{ success: [{ op: "get", key: "a", revision: 0 }] }, '"revision"'],
      [{ success: [{ op: "scan", limit: 0 }] }, '"limit"'],
      [{ success: [put, put] }, "put twice"],
      [{ success: [put, { op: "delete", key: "a" }] }, "both put and deleted"],
      [{ failure: [{ op: "delete", prefix: "" }, put] }, "both put and deleted"],
      [{ session: "s" }, '"seq"'],
    ];
    for (const [fields, expected] of cases) {
      const error = refused({ id: 1, op: "txn", ...fields });
      expect(error.code, JSON.stringify(fields)).toBe("BAD_REQUEST");
      expect(error.message, JSON.stringify(fields)).toContain(expected);
    }
    // The same key may be put once in each branch.
    expect(accepted({ id: 1, op: "txn", success: [put], failure: [put] }).op).toBe("txn");
  });

  test("protocol - a txn larger than an entry may be, or with too many ops, is TOO_LARGE", () => {
    const limits = { ...defaultProtocolLimits, maxValueBytes: 100, maxKeyBytes: 10 };
    const big = Array.from({ length: 3 }, (_, k) => ({
      op: "put",
      key: `k${k}`,
      value: "v".repeat(60),
    }));
    expect(refused({ id: 1, op: "txn", success: big }, limits).code).toBe("TOO_LARGE");
    const many = Array.from({ length: 129 }, (_, k) => ({ op: "get", key: `k${k}` }));
    expect(refused({ id: 1, op: "txn", success: many }).code).toBe("TOO_LARGE");
    const split = { success: many.slice(0, 70), failure: many.slice(70) };
    expect(refused({ id: 1, op: "txn", ...split }).code).toBe("TOO_LARGE");
  });
});
