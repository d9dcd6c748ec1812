/**
 * The gateway's checks of the txn additions (CONTRACT §5, issue 17): nested txns, compares over
 * a range, `revision` on a txn's get/scan, ignoreValue/ignoreLease, etcd's duplicate-key rule
 * across nested txns (api/v3rpc/key.go checkIntervals) and the bounds on nesting and op count.
 */
import { describe, expect, test } from "vitest";
import { decodeRequest } from "../../stages/protocol-decode.js";
import { MAX_TXN_DEPTH } from "../../stages/protocol-txn.js";

type Frame = Record<string, unknown>;

function accepted(frame: Frame) {
  const result = decodeRequest(JSON.stringify({ id: 1, ...frame }));
  if (!result.ok) throw new Error(`refused ${JSON.stringify(frame)}: ${result.error.message}`);
  return result.request;
}

function refused(frame: Frame): { code: string; message: string } {
  const result = decodeRequest(JSON.stringify({ id: 1, ...frame }));
  if (result.ok) throw new Error(`accepted ${JSON.stringify(frame)}`);
  return result.error;
}

const put = (key: string) => ({ op: "put", key, value: "v" });
const del = (key: string) => ({ op: "delete", key });
const nested = (success: Frame[], failure: Frame[] = []) => ({
  op: "txn",
  compare: [],
  success,
  failure,
});

describe("protocol - txn additions", () => {
  test("a nested txn, a range compare, a read at a revision and ignore* decode in the wire's shape, and again to themselves", () => {
    const frame = {
      op: "txn",
      compare: [
        { prefix: "p/", target: "version", op: ">", value: 0 },
        { start: "a", end: "b", target: "value", op: "==", value: "x" },
        { key: "k", target: "modRevision", op: "<", value: 9 },
      ],
      success: [
        {
          op: "txn",
          compare: [{ start: "m", target: "createRevision", op: "==", value: 0 }],
          success: [{ op: "get", key: "a", revision: 4 }],
          failure: [{ op: "put", key: "a", ignoreValue: true, ignoreLease: true }],
        },
        { op: "scan", prefix: "p/", revision: 2, limit: 5 },
      ],
      failure: [{ op: "put", key: "b", value: "", ignoreValue: true, lease: "7" }],
    };
    const once = accepted(frame);
    expect(once).toEqual({
      ...frame,
      success: [
        {
          ...frame.success[0],
          failure: [{ op: "put", key: "a", value: "", ignoreValue: true, ignoreLease: true }],
        },
        frame.success[1],
      ],
    });
    expect(accepted(once as unknown as Frame)).toEqual(once);
    expect(accepted({ ...put("k"), ignoreValue: true, value: "" })).toMatchObject({
      op: "put",
      value: "",
      ignoreValue: true,
    });
  });

  test("every bad field of the additions is BAD_REQUEST naming it and where it is", () => {
    const txn = (success: Frame[], compare: Frame[] = []) => ({ op: "txn", compare, success });
    const cases: [Frame, string][] = [
      [txn([{ op: "txn", success: [{ op: "get" }] }]), 'success[0]: success[0]: "key"'],
      [txn([{ op: "txn", compare: "x" }]), 'success[0]: "compare"'],
      [txn([{ op: "txn", failure: [{ op: "incr" }] }]), 'success[0]: failure[0]: "op"'],
      [txn([], [{ prefix: 3, target: "version", op: "==", value: 0 }]), '"prefix"'],
      [txn([], [{ key: "a", end: "b", target: "version", op: "==", value: 0 }]), '"key" and'],
      [txn([], [{ start: "a", end: 5, target: "version", op: "==", value: 0 }]), '"end"'],
      [txn([{ op: "get", key: "a", revision: -1 }]), '"revision"'],
      [txn([{ op: "scan", revision: "2" }]), '"revision"'],
      [txn([{ op: "delete", key: "a", revision: 2 }]), '"revision"'],
      [txn([{ op: "txn", revision: 2 }]), '"revision"'],
      [txn([{ ...put("a"), ignoreValue: 1 }]), '"ignoreValue"'],
      [txn([{ ...put("a"), ignoreValue: true }]), '"value" must be absent'],
      [txn([{ ...put("a"), ignoreLease: true, lease: "5" }]), '"lease" must be absent'],
      [{ ...put("a"), ignoreLease: "yes" }, '"ignoreLease"'],
      [{ op: "put", key: "a", ignoreValue: true, value: "x" }, '"value" must be absent'],
    ];
    for (const [frame, expected] of cases) {
      const error = refused(frame);
      expect(error.code, JSON.stringify(frame)).toBe("BAD_REQUEST");
      expect(error.message, JSON.stringify(frame)).toContain(expected);
    }
  });

  test("etcd's duplicate-key rule reaches into nested txns (checkIntervals)", () => {
    const bad: [Frame[], string][] = [
      [[put("a"), nested([put("a")])], "put twice"],
      [[nested([put("a")]), nested([put("a")])], "put twice"],
      [[nested([put("x")], [put("a")]), nested([], [put("a")])], "put twice"],
      [[del("a"), nested([put("a")])], "both put and deleted"],
      [[nested([{ op: "delete", prefix: "a" }]), put("ab")], "both put and deleted"],
      [[nested([del("a")]), nested([], [put("a")])], "both put and deleted"],
      [[nested([nested([put("a")])]), put("a")], "put twice"],
    ];
    for (const [success, expected] of bad) {
      const error = refused({ op: "txn", success });
      expect(error.code, JSON.stringify(success)).toBe("BAD_REQUEST");
      expect(error.message).toContain(`"success": the key "a`);
      expect(error.message).toContain(expected);
    }
    const good: Frame[][] = [
      // Only one branch of a nested txn runs.
      [nested([put("a")], [put("a")])],
      // etcd allows deleting a key twice, and a later sibling deleting what a nested txn put.
      [del("a"), del("a")],
      [nested([put("a")]), nested([del("a")])],
      [nested([put("a")]), del("b")],
    ];
    for (const success of good) expect(accepted({ op: "txn", success }).op).toBe("txn");
  });

  test("nesting deeper than MAX_TXN_DEPTH, or more than 128 compares and ops at all levels, is TOO_LARGE", () => {
    const deep = (depth: number): Frame =>
      depth === 1 ? { op: "txn" } : { op: "txn", success: [deep(depth - 1)] };
    expect(accepted(deep(MAX_TXN_DEPTH)).op).toBe("txn");
    const error = refused(deep(MAX_TXN_DEPTH + 1));
    expect(error.code).toBe("TOO_LARGE");
    expect(error.message).toContain(`nest at most ${MAX_TXN_DEPTH} deep`);
    const gets = (n: number, from = 0) =>
      Array.from({ length: n }, (_, k) => ({ op: "get", key: `k${from + k}` }));
    // 1 nested txn + 63 + 64 = 128: at the bound.
    expect(accepted({ op: "txn", success: [nested(gets(63), gets(64, 100))] }).op).toBe("txn");
    const over = refused({ op: "txn", success: [nested(gets(64), gets(64, 100))] });
    expect(over.code).toBe("TOO_LARGE");
    expect(over.message).toContain("compares and ops");
  });
});
