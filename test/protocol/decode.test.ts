import fc from "fast-check";
import { describe, expect, test } from "vitest";
import {
  type ClientRequest,
  type DecodeResult,
  defaultProtocolLimits,
  type ProtocolLimits,
} from "../../stages/protocol.js";
import { decodeRequest } from "../../stages/protocol-decode.js";

/**
 * Unit tests of the client protocol's gateway (../shared/CONTRACT.md §3): decodeRequest on
 * every op of the contract with its exact field names, and every error code the decoder can
 * give. Frames are built as objects and sent through JSON.stringify, as a client would.
 */

/** Every error code of the contract (§3, "Error codes"). */
const CONTRACT_CODES = [
  "BAD_REQUEST",
  "TOO_LARGE",
  "NOT_LEADER",
  "UNAVAILABLE",
  "TIMEOUT",
  "OVERLOADED",
  "UNAUTHORIZED",
  "NOT_FOUND",
  "CONFLICT",
] as const;

const CONSISTENCIES = ["linearizable", "lease", "stale"];
const KiB4 = 4096;
const MiB1 = 1 << 20;
const encoder = new TextEncoder();
const utf8 = (text: string) => encoder.encode(text).length;

function decode(frame: unknown, limits?: ProtocolLimits): DecodeResult {
  return decodeRequest(JSON.stringify(frame), limits);
}

/** The decoded request of a frame that must be accepted. */
function accepted(frame: Record<string, unknown>, limits?: ProtocolLimits): ClientRequest {
  const result = decode(frame, limits);
  if (!result.ok)
    throw new Error(`refused ${preview(frame)}: ${result.error.code} ${result.error.message}`);
  expect(result.id).toBe(frame.id);
  return result.request;
}

/** The error code of a frame that must be refused; checks that a valid id is echoed. */
function refused(frame: Record<string, unknown>, limits?: ProtocolLimits): string {
  const result = decode(frame, limits);
  if (result.ok) throw new Error(`accepted ${preview(frame)}: ${JSON.stringify(result.request)}`);
  expect(result.id, `id of the error reply to ${preview(frame)}`).toBe(frame.id);
  expect(typeof result.error.message).toBe("string");
  expect(result.error.message.length).toBeGreaterThan(0);
  return result.error.code;
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 200 ? `${text.slice(0, 200)}… (${text.length} chars)` : text;
}

describe("protocol - frames and ids", () => {
  test("protocol - invalid JSON is BAD_REQUEST with a null id", () => {
    for (const text of [
      "",
      "{",
      "not json",
      '{"id":1,"op":"status"',
      "{'id':1}",
      "\u0000",
      "[1,]",
    ]) {
      const result = decodeRequest(text);
      expect(result.ok, JSON.stringify(text)).toBe(false);
      if (!result.ok) {
        expect(result.error.code).toBe("BAD_REQUEST");
        expect(result.id).toBeNull();
      }
    }
  });

  test("protocol - a frame that is not a JSON object is BAD_REQUEST with a null id", () => {
    for (const text of ["null", "1", '"status"', "true", "[]", '[{"id":1,"op":"status"}]']) {
      const result = decodeRequest(text);
      expect(result.ok, text).toBe(false);
      if (!result.ok) {
        expect(result.error.code, text).toBe("BAD_REQUEST");
        expect(result.id, text).toBeNull();
      }
    }
  });

  test("protocol - a missing or invalid id is BAD_REQUEST with a null id", () => {
    const texts = [
      '{"op":"status"}',
      '{"id":null,"op":"status"}',
      '{"id":true,"op":"status"}',
      '{"id":{},"op":"status"}',
      '{"id":[1],"op":"status"}',
      '{"id":1e400,"op":"status"}', // Infinity: not a JSON number a client can match
      `{"id":"${"x".repeat(257)}","op":"status"}`,
    ];
    for (const text of texts) {
      const result = decodeRequest(text);
      expect(result.ok, text).toBe(false);
      if (!result.ok) {
        expect(result.error.code, text).toBe("BAD_REQUEST");
        expect(result.id, text).toBeNull();
      }
    }
  });

  test("protocol - number and string ids are echoed exactly, on success and on error", () => {
    for (const id of [0, 7, -3, 1.5, 2 ** 53 - 1, "", "abc", "ü😀", "x".repeat(256)]) {
      const ok = decode({ id, op: "status" });
      expect(ok.ok).toBe(true);
      expect(ok.id).toBe(id);
      const bad = decode({ id, op: "no-such-op" });
      expect(bad.ok).toBe(false);
      expect(bad.id).toBe(id);
    }
  });

  test("protocol - an unknown, missing or non-string op is BAD_REQUEST with the id", () => {
    expect(refused({ id: 1, op: "nope" })).toBe("BAD_REQUEST");
    expect(refused({ id: 2 })).toBe("BAD_REQUEST");
    expect(refused({ id: 3, op: 5 })).toBe("BAD_REQUEST");
    expect(refused({ id: 4, op: null })).toBe("BAD_REQUEST");
    expect(refused({ id: 5, op: ["put"] })).toBe("BAD_REQUEST");
    expect(refused({ id: 6, op: "PUT", key: "k", value: "v" })).toBe("BAD_REQUEST");
    expect(refused({ id: 7, op: "toString" })).toBe("BAD_REQUEST");
    expect(refused({ id: 8, op: "__proto__" })).toBe("BAD_REQUEST");
    expect(refused({ id: "s", op: "x".repeat(10_000) })).toBe("BAD_REQUEST");
  });
});

describe("protocol - every op of the contract, with its exact field names", () => {
  test("protocol - put: key, value (session/seq optional)", () => {
    expect(accepted({ id: 1, op: "put", key: "a", value: "1" })).toEqual({
      op: "put",
      key: "a",
      value: "1",
    });
    expect(accepted({ id: 1, op: "put", key: "a", value: "" })).toEqual({
      op: "put",
      key: "a",
      value: "",
    });
    expect(accepted({ id: 1, op: "put", key: "a", value: "1", session: "s", seq: 3 })).toEqual({
      op: "put",
      key: "a",
      value: "1",
      session: "s",
      seq: 3,
    });
    expect(refused({ id: 1, op: "put", key: "a" })).toBe("BAD_REQUEST");
    expect(refused({ id: 1, op: "put", value: "1" })).toBe("BAD_REQUEST");
    expect(refused({ id: 1, op: "put", key: 5, value: "1" })).toBe("BAD_REQUEST");
    expect(refused({ id: 1, op: "put", key: "a", value: 1 })).toBe("BAD_REQUEST");
    expect(refused({ id: 1, op: "put", key: "a", value: null })).toBe("BAD_REQUEST");
    expect(refused({ id: 1, op: "put", key: "a", value: { v: 1 } })).toBe("BAD_REQUEST");
    // Field names are exact: "val" or "Key" are not "value" or "key".
    expect(refused({ id: 1, op: "put", key: "a", val: "1" })).toBe("BAD_REQUEST");
    expect(refused({ id: 1, op: "put", Key: "a", value: "1" })).toBe("BAD_REQUEST");
  });

  test("protocol - get: key, consistency? (linearizable by default, lease, stale)", () => {
    expect(accepted({ id: 1, op: "get", key: "a" })).toEqual({
      op: "get",
      key: "a",
      consistency: "linearizable",
    });
    for (const consistency of ["linearizable", "lease", "stale"]) {
      expect(accepted({ id: 1, op: "get", key: "a", consistency })).toEqual({
        op: "get",
        key: "a",
        consistency,
      });
    }
    expect(refused({ id: 1, op: "get" })).toBe("BAD_REQUEST");
    expect(refused({ id: 1, op: "get", key: 1 })).toBe("BAD_REQUEST");
    for (const consistency of ["strong", "Stale", "", 1, true, ["stale"]])
      expect(refused({ id: 1, op: "get", key: "a", consistency })).toBe("BAD_REQUEST");
  });

  test("protocol - delete: key", () => {
    expect(accepted({ id: 1, op: "delete", key: "a" })).toEqual({ op: "delete", key: "a" });
    expect(refused({ id: 1, op: "delete" })).toBe("BAD_REQUEST");
    expect(refused({ id: 1, op: "delete", key: false })).toBe("BAD_REQUEST");
  });

  test("protocol - cas: key, expect (string or null = must be absent), value", () => {
    expect(accepted({ id: 1, op: "cas", key: "a", expect: "x", value: "y" })).toEqual({
      op: "cas",
      key: "a",
      expect: "x",
      value: "y",
    });
    expect(accepted({ id: 1, op: "cas", key: "a", expect: null, value: "y" })).toEqual({
      op: "cas",
      key: "a",
      expect: null,
      value: "y",
    });
    expect(refused({ id: 1, op: "cas", key: "a", value: "y" })).toBe("BAD_REQUEST"); // no expect
    expect(refused({ id: 1, op: "cas", key: "a", expect: 1, value: "y" })).toBe("BAD_REQUEST");
    expect(refused({ id: 1, op: "cas", key: "a", expect: "x" })).toBe("BAD_REQUEST");
    expect(refused({ id: 1, op: "cas", key: "a", expect: "x", value: null })).toBe("BAD_REQUEST");
    expect(refused({ id: 1, op: "cas", expect: "x", value: "y" })).toBe("BAD_REQUEST");
  });

  test("protocol - incr: key, delta (integer)", () => {
    for (const delta of [1, 0, -5, 2 ** 53 - 1, -(2 ** 53 - 1)]) {
      expect(accepted({ id: 1, op: "incr", key: "c", delta })).toEqual({
        op: "incr",
        key: "c",
        delta,
      });
    }
    for (const delta of [1.5, "1", null, true, 2 ** 53, [1]])
      expect(refused({ id: 1, op: "incr", key: "c", delta })).toBe("BAD_REQUEST");
    expect(refused({ id: 1, op: "incr", key: "c" })).toBe("BAD_REQUEST");
    expect(refused({ id: 1, op: "incr", delta: 1 })).toBe("BAD_REQUEST");
  });

  test("protocol - scan: prefix? or start?/end?, limit?, consistency?", () => {
    expect(accepted({ id: 1, op: "scan" })).toEqual({
      op: "scan",
      limit: defaultProtocolLimits.maxScanLimit,
      consistency: "linearizable",
    });
    expect(accepted({ id: 1, op: "scan", prefix: "p/", limit: 5, consistency: "stale" })).toEqual({
      op: "scan",
      prefix: "p/",
      limit: 5,
      consistency: "stale",
    });
    expect(
      accepted({ id: 1, op: "scan", start: "a", end: "m", limit: 1, consistency: "lease" }),
    ).toEqual({ op: "scan", start: "a", end: "m", limit: 1, consistency: "lease" });
    expect(accepted({ id: 1, op: "scan", prefix: "" })).toMatchObject({ prefix: "" });
    for (const limit of [0, -1, 1.5, "10", defaultProtocolLimits.maxScanLimit + 1, true])
      expect(refused({ id: 1, op: "scan", limit })).toBe("BAD_REQUEST");
    for (const field of ["prefix", "start", "end"]) {
      expect(refused({ id: 1, op: "scan", [field]: 1 })).toBe("BAD_REQUEST");
      expect(refused({ id: 1, op: "scan", [field]: ["a"] })).toBe("BAD_REQUEST");
    }
    expect(refused({ id: 1, op: "scan", consistency: "eventual" })).toBe("BAD_REQUEST");
  });

  test("protocol - status, members and snapshot take no fields", () => {
    for (const op of ["status", "members", "snapshot"] as const) {
      expect(accepted({ id: 1, op })).toEqual({ op });
      // Unknown extra fields are ignored, not echoed into the request.
      expect(accepted({ id: 2, op, extra: [1, 2] })).toEqual({ op });
    }
  });

  test("protocol - member-add: name, peer, client, voter? (a voter by default)", () => {
    const base = { id: 1, op: "member-add", name: "n4", peer: "10.0.0.4:8004", client: "h:7004" };
    expect(accepted(base)).toEqual({
      op: "member-add",
      name: "n4",
      peer: "10.0.0.4:8004",
      client: "h:7004",
      voter: true,
    });
    expect(accepted({ ...base, voter: false })).toMatchObject({ voter: false });
    expect(refused({ ...base, voter: "yes" })).toBe("BAD_REQUEST");
    expect(refused({ ...base, name: undefined })).toBe("BAD_REQUEST");
    expect(refused({ ...base, name: 4 })).toBe("BAD_REQUEST");
    expect(refused({ ...base, name: "has space" })).toBe("BAD_REQUEST");
    expect(refused({ ...base, name: "" })).toBe("BAD_REQUEST");
    expect(refused({ ...base, peer: undefined })).toBe("BAD_REQUEST");
    expect(refused({ ...base, peer: "no-port" })).toBe("BAD_REQUEST");
    expect(refused({ ...base, peer: "h:70000" })).toBe("BAD_REQUEST");
    expect(refused({ ...base, client: undefined })).toBe("BAD_REQUEST");
    // null: the member's hello will tell (etcd's MemberAdd carries no client address).
    expect(accepted({ ...base, client: null })).toMatchObject({ client: null });
    expect(refused({ ...base, client: 7004 })).toBe("BAD_REQUEST");
  });

  test("protocol - member-remove: name; transfer-leader: to", () => {
    expect(accepted({ id: 1, op: "member-remove", name: "n2" })).toEqual({
      op: "member-remove",
      name: "n2",
    });
    expect(refused({ id: 1, op: "member-remove" })).toBe("BAD_REQUEST");
    expect(refused({ id: 1, op: "member-remove", to: "n2" })).toBe("BAD_REQUEST");
    expect(accepted({ id: 1, op: "member-promote", name: "n4" })).toEqual({
      op: "member-promote",
      name: "n4",
    });
    expect(refused({ id: 1, op: "member-promote" })).toBe("BAD_REQUEST");
    expect(accepted({ id: 1, op: "transfer-leader", to: "n2" })).toEqual({
      op: "transfer-leader",
      to: "n2",
    });
    expect(refused({ id: 1, op: "transfer-leader" })).toBe("BAD_REQUEST");
    expect(refused({ id: 1, op: "transfer-leader", name: "n2" })).toBe("BAD_REQUEST");
    expect(refused({ id: 1, op: "transfer-leader", to: null })).toBe("BAD_REQUEST");
  });

  test("protocol - session and seq on writes: both or neither, seq a positive integer", () => {
    const writes = [
      { op: "put", key: "k", value: "v" },
      { op: "delete", key: "k" },
      { op: "cas", key: "k", expect: null, value: "v" },
      { op: "incr", key: "k", delta: 1 },
    ];
    for (const write of writes) {
      expect(accepted({ id: 1, ...write, session: "abc", seq: 1 })).toMatchObject({
        session: "abc",
        seq: 1,
      });
      expect(refused({ id: 1, ...write, session: "abc" }), write.op).toBe("BAD_REQUEST");
      expect(refused({ id: 1, ...write, seq: 1 }), write.op).toBe("BAD_REQUEST");
      expect(refused({ id: 1, ...write, session: "abc", seq: 0 }), write.op).toBe("BAD_REQUEST");
      expect(refused({ id: 1, ...write, session: "abc", seq: 1.5 })).toBe("BAD_REQUEST");
      expect(refused({ id: 1, ...write, session: "abc", seq: "1" })).toBe("BAD_REQUEST");
      expect(refused({ id: 1, ...write, session: "", seq: 1 })).toBe("BAD_REQUEST");
      expect(refused({ id: 1, ...write, session: 5, seq: 1 })).toBe("BAD_REQUEST");
      expect(refused({ id: 1, ...write, session: "s".repeat(129), seq: 1 })).toBe("BAD_REQUEST");
    }
  });

  test("protocol - vcreate: collection, dim, metric (l2 / cosine / ip), engine?", () => {
    for (const metric of ["l2", "cosine", "ip"]) {
      expect(accepted({ id: 1, op: "vcreate", collection: "docs", dim: 3, metric })).toEqual({
        op: "vcreate",
        collection: "docs",
        dim: 3,
        metric,
      });
    }
    const base = { id: 1, op: "vcreate", collection: "docs", dim: 3, metric: "l2" };
    expect(accepted({ ...base, engine: "flat" })).toMatchObject({ engine: "flat" });
    expect(accepted({ ...base, session: "s", seq: 2 })).toMatchObject({ session: "s", seq: 2 });
    for (const metric of ["L2", "manhattan", "", 1, null, undefined])
      expect(refused({ ...base, metric }), String(metric)).toBe("BAD_REQUEST");
    for (const dim of [0, -1, 1.5, "3", null, undefined, [3]])
      expect(refused({ ...base, dim }), String(dim)).toBe("BAD_REQUEST");
    for (const collection of ["", 5, null, undefined, "has space", "a/b"])
      expect(refused({ ...base, collection }), String(collection)).toBe("BAD_REQUEST");
    expect(refused({ ...base, engine: "faiss" })).toBe("BAD_REQUEST");
    expect(refused({ ...base, engine: 1 })).toBe("BAD_REQUEST");
  });

  test("protocol - vput: collection, key (string), vector (number[]), meta? (object)", () => {
    const base = { id: 1, op: "vput", collection: "docs", key: "a", vector: [1, -2.5, 0] };
    expect(accepted(base)).toEqual({
      op: "vput",
      collection: "docs",
      key: "a",
      vector: [1, -2.5, 0],
    });
    const meta = { tag: "x", n: 2, on: true, none: null };
    expect(accepted({ ...base, meta })).toEqual({
      op: "vput",
      collection: "docs",
      key: "a",
      vector: [1, -2.5, 0],
      meta,
    });
    for (const vector of [[], ["1"], [1, null], [[1]], "1,2", null, undefined, { 0: 1 }])
      expect(refused({ ...base, vector }), JSON.stringify(vector)).toBe("BAD_REQUEST");
    for (const bad of ["m", 1, [1], null])
      expect(refused({ ...base, meta: bad }), JSON.stringify(bad)).toBe("BAD_REQUEST");
    // Nested meta (for dotted filter paths) and arrays are JSON like any other.
    const nested = { nested: { a: 1, list: [1, "x", { b: null }] } };
    expect(accepted({ ...base, meta: nested })).toMatchObject({ meta: nested });
    let deep: unknown = 1;
    for (let k = 0; k < 9; k++) deep = { d: deep };
    expect(refused({ ...base, meta: deep })).toBe("BAD_REQUEST");
    expect(refused({ ...base, meta: { deep: { a: { s: "\udc00" } } } })).toBe("BAD_REQUEST");
    expect(refused({ ...base, meta: { s: "\ud800" } })).toBe("BAD_REQUEST");
    expect(refused({ ...base, key: undefined })).toBe("BAD_REQUEST");
    expect(refused({ ...base, key: 7 })).toBe("BAD_REQUEST");
    expect(refused({ ...base, key: "" })).toBe("BAD_REQUEST");
    expect(refused({ ...base, key: "\u0000k" })).toBe("BAD_REQUEST");
    expect(refused({ ...base, key: "\udc00" })).toBe("BAD_REQUEST");
    expect(refused({ ...base, key: "€".repeat(1366) })).toBe("TOO_LARGE");
    expect(refused({ ...base, collection: undefined })).toBe("BAD_REQUEST");
    // meta is bounded too: a huge one is TOO_LARGE.
    expect(refused({ ...base, meta: { big: "m".repeat(70_000) } })).toBe("TOO_LARGE");
  });

  test("protocol - vdelete: collection, key", () => {
    expect(accepted({ id: 1, op: "vdelete", collection: "docs", key: "a" })).toEqual({
      op: "vdelete",
      collection: "docs",
      key: "a",
    });
    expect(refused({ id: 1, op: "vdelete", collection: "docs" })).toBe("BAD_REQUEST");
    expect(refused({ id: 1, op: "vdelete", key: "a" })).toBe("BAD_REQUEST");
    expect(refused({ id: 1, op: "vdelete", collection: "docs", key: "€".repeat(1366) })).toBe(
      "TOO_LARGE",
    );
  });

  test("protocol - vsearch: collection, vector, k, consistency?", () => {
    const base = { id: 1, op: "vsearch", collection: "docs", vector: [0.5, 1], k: 3 };
    expect(accepted(base)).toEqual({
      op: "vsearch",
      collection: "docs",
      vector: [0.5, 1],
      k: 3,
      consistency: "linearizable",
    });
    for (const consistency of CONSISTENCIES)
      expect(accepted({ ...base, consistency })).toMatchObject({ consistency });
    expect(refused({ ...base, consistency: "eventual" })).toBe("BAD_REQUEST");
    for (const k of [0, -1, 1.5, "3", null, undefined])
      expect(refused({ ...base, k }), String(k)).toBe("BAD_REQUEST");
    for (const vector of [[], ["a"], null, undefined])
      expect(refused({ ...base, vector }), JSON.stringify(vector)).toBe("BAD_REQUEST");
    expect(refused({ ...base, collection: 3 })).toBe("BAD_REQUEST");
  });
});

describe("protocol - keys and values: Unicode and size limits", () => {
  test("protocol - lone surrogates in any string field are BAD_REQUEST; a surrogate pair is fine", () => {
    const lone = ["\ud800", "a\udc00", "x\ud83d", "\udfff\ud800"];
    for (const bad of lone) {
      expect(refused({ id: 1, op: "put", key: bad, value: "v" })).toBe("BAD_REQUEST");
      expect(refused({ id: 1, op: "put", key: "k", value: bad })).toBe("BAD_REQUEST");
      expect(refused({ id: 1, op: "get", key: bad })).toBe("BAD_REQUEST");
      expect(refused({ id: 1, op: "delete", key: bad })).toBe("BAD_REQUEST");
      expect(refused({ id: 1, op: "cas", key: "k", expect: bad, value: "v" })).toBe("BAD_REQUEST");
      expect(refused({ id: 1, op: "cas", key: "k", expect: null, value: bad })).toBe("BAD_REQUEST");
      expect(refused({ id: 1, op: "incr", key: bad, delta: 1 })).toBe("BAD_REQUEST");
      for (const field of ["prefix", "start", "end"])
        expect(refused({ id: 1, op: "scan", [field]: bad })).toBe("BAD_REQUEST");
    }
    // The same escapes as a client's raw JSON text would carry them.
    const raw = decodeRequest('{"id":1,"op":"put","key":"\\ud800","value":"v"}');
    expect(raw.ok).toBe(false);
    expect(!raw.ok && raw.error.code).toBe("BAD_REQUEST");
    expect(accepted({ id: 1, op: "put", key: "😀", value: "😀\ud83d\ude00" })).toMatchObject({
      key: "😀",
    });
  });

  /**
   * A session id is stored in the replicated state (the session table, under a reserved key):
   * with a lone surrogate it has no UTF-8 form, so a stored record comes back as U+FFFD after a
   * restart or snapshot and no longer matches the session: the same rule as keys must apply.
   */
  test("protocol - a session id holding a lone surrogate is BAD_REQUEST", () => {
    expect(refused({ id: 1, op: "put", key: "k", value: "v", session: "\ud800", seq: 1 })).toBe(
      "BAD_REQUEST",
    );
    expect(refused({ id: 1, op: "incr", key: "k", delta: 1, session: "a\udc00b", seq: 1 })).toBe(
      "BAD_REQUEST",
    );
  });

  test("protocol - a meta field name holding a lone surrogate is BAD_REQUEST", () => {
    // Field names of meta enter the replicated state just as values do.
    expect(
      refused({ id: 1, op: "vput", collection: "c", key: "k", vector: [1], meta: { "\ud800": 1 } }),
    ).toBe("BAD_REQUEST");
  });

  test("protocol - a key starting with U+0000 is reserved (BAD_REQUEST); U+0000 elsewhere is fine", () => {
    for (const key of ["\u0000", "\u0000s:abc", "\u0000a"]) {
      expect(refused({ id: 1, op: "put", key, value: "v" })).toBe("BAD_REQUEST");
      expect(refused({ id: 1, op: "get", key })).toBe("BAD_REQUEST");
      expect(refused({ id: 1, op: "delete", key })).toBe("BAD_REQUEST");
      expect(refused({ id: 1, op: "cas", key, expect: null, value: "v" })).toBe("BAD_REQUEST");
      expect(refused({ id: 1, op: "incr", key, delta: 1 })).toBe("BAD_REQUEST");
    }
    expect(accepted({ id: 1, op: "put", key: "a\u0000b", value: "v" })).toMatchObject({
      key: "a\u0000b",
    });
    expect(refused({ id: 1, op: "put", key: "", value: "v" })).toBe("BAD_REQUEST");
  });

  test("protocol - keys over 4 KiB are TOO_LARGE, counted in UTF-8 bytes (1366 × € = 4098 B refused, 1365 accepted)", () => {
    const euro1365 = "€".repeat(1365);
    const euro1366 = "€".repeat(1366);
    expect(utf8(euro1365)).toBe(4095);
    expect(utf8(euro1366)).toBe(4098);
    expect(euro1366.length).toBeLessThan(KiB4); // fewer UTF-16 units than the limit
    expect(accepted({ id: 1, op: "put", key: euro1365, value: "v" })).toMatchObject({
      key: euro1365,
    });
    expect(refused({ id: 1, op: "put", key: euro1366, value: "v" })).toBe("TOO_LARGE");
    // At the edge exactly: 4096 bytes is in, 4097 out, whatever the characters.
    expect(accepted({ id: 1, op: "put", key: "k".repeat(KiB4), value: "v" })).toBeTruthy();
    expect(refused({ id: 1, op: "put", key: "k".repeat(KiB4 + 1), value: "v" })).toBe("TOO_LARGE");
    const emoji1024 = "😀".repeat(1024); // 4096 bytes, 2048 UTF-16 units
    expect(accepted({ id: 1, op: "get", key: emoji1024 })).toMatchObject({ key: emoji1024 });
    expect(refused({ id: 1, op: "get", key: `${emoji1024}a` })).toBe("TOO_LARGE");
    expect(refused({ id: 1, op: "get", key: euro1366 })).toBe("TOO_LARGE");
    expect(refused({ id: 1, op: "delete", key: euro1366 })).toBe("TOO_LARGE");
    expect(refused({ id: 1, op: "cas", key: euro1366, expect: null, value: "v" })).toBe(
      "TOO_LARGE",
    );
    expect(refused({ id: 1, op: "incr", key: euro1366, delta: 1 })).toBe("TOO_LARGE");
    for (const field of ["prefix", "start", "end"]) {
      expect(accepted({ id: 1, op: "scan", [field]: euro1365 })).toMatchObject({
        [field]: euro1365,
      });
      expect(refused({ id: 1, op: "scan", [field]: euro1366 })).toBe("TOO_LARGE");
    }
  });

  test("protocol - values over 1 MiB are TOO_LARGE, counted in UTF-8 bytes", () => {
    const ascii = "v".repeat(MiB1);
    expect(accepted({ id: 1, op: "put", key: "k", value: ascii })).toMatchObject({ op: "put" });
    expect(refused({ id: 1, op: "put", key: "k", value: `${ascii}v` })).toBe("TOO_LARGE");
    // 349,525 × € = 1,048,575 bytes (in); 349,526 × € = 1,048,578 bytes (out), though only
    // 349,526 UTF-16 units.
    const euroIn = "€".repeat(349_525);
    const euroOut = "€".repeat(349_526);
    expect(utf8(euroIn)).toBeLessThanOrEqual(MiB1);
    expect(utf8(euroOut)).toBeGreaterThan(MiB1);
    expect(accepted({ id: 1, op: "put", key: "k", value: euroIn })).toMatchObject({ op: "put" });
    expect(refused({ id: 1, op: "put", key: "k", value: euroOut })).toBe("TOO_LARGE");
    expect(refused({ id: 1, op: "cas", key: "k", expect: null, value: euroOut })).toBe("TOO_LARGE");
    expect(refused({ id: 1, op: "cas", key: "k", expect: euroOut, value: "v" })).toBe("TOO_LARGE");
    expect(accepted({ id: 1, op: "cas", key: "k", expect: euroIn, value: euroIn })).toMatchObject({
      op: "cas",
    });
  });

  /**
   * limits.maxKeyBytes and limits.maxValueBytes are node config (docs: min 1). A limit under
   * 1 KiB must still count the actual UTF-8 bytes, not an upper bound of them.
   */
  test("protocol - configured limits below 1 KiB count actual UTF-8 bytes too", () => {
    const limits: ProtocolLimits = { maxKeyBytes: 64, maxValueBytes: 100, maxScanLimit: 50 };
    const result = decode({ id: 1, op: "put", key: "k".repeat(40), value: "v".repeat(90) }, limits);
    expect(result.ok ? "ok" : `${result.error.code}: ${result.error.message}`).toBe("ok");
    expect(decode({ id: 1, op: "put", key: "k".repeat(64), value: "v" }, limits).ok).toBe(true);
    expect(refused({ id: 1, op: "put", key: "k".repeat(65), value: "v" }, limits)).toBe(
      "TOO_LARGE",
    );
    expect(refused({ id: 1, op: "put", key: "€".repeat(22), value: "v" }, limits)).toBe(
      "TOO_LARGE",
    ); // 66 bytes
    expect(decode({ id: 1, op: "put", key: "€".repeat(21), value: "v" }, limits).ok).toBe(true);
    expect(refused({ id: 1, op: "put", key: "k", value: "v".repeat(101) }, limits)).toBe(
      "TOO_LARGE",
    );
    expect(refused({ id: 1, op: "scan", limit: 51 }, limits)).toBe("BAD_REQUEST");
    expect(accepted({ id: 1, op: "scan" }, limits)).toMatchObject({ limit: 50 });
  });
});

// ---------------------------------------------------------------- property test

const PROPERTY_SEED = 0x5eed_0dec;

const isVector = (value: unknown) =>
  Array.isArray(value) &&
  value.length > 0 &&
  value.every((x) => typeof x === "number" && Number.isFinite(x));
/** meta: any JSON object (nested objects and arrays too; CONTRACT §6's dotted paths). */
const isObject = (value: unknown) =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Why `request` (accepted) is not a well-typed, faithful decoding of `frame`; [] if it is. */
function problems(frame: Record<string, unknown>, request: ClientRequest): string[] {
  const out: string[] = [];
  const limits = defaultProtocolLimits;
  const r = request as unknown as Record<string, unknown>;
  const isText = (value: unknown, maxBytes: number) =>
    typeof value === "string" && !/\p{Surrogate}/u.test(value) && utf8(value) <= maxBytes;
  const isKey = (value: unknown) =>
    isText(value, limits.maxKeyBytes) &&
    (value as string).length > 0 &&
    (value as string).charCodeAt(0) !== 0;
  const same = (field: string) => {
    if (r[field] !== frame[field]) out.push(`${field} differs from the frame`);
  };
  const only = (...fields: string[]) => {
    for (const field of Object.keys(r))
      if (field !== "op" && !fields.includes(field)) out.push(`unexpected field ${field}`);
  };
  if (r.op !== frame.op) out.push("op differs from the frame");
  const session = () => {
    if (r.session === undefined && r.seq === undefined) return;
    if (typeof r.session !== "string" || r.session.length === 0) out.push("bad session");
    if (!Number.isSafeInteger(r.seq) || (r.seq as number) < 1) out.push("bad seq");
    same("session");
    same("seq");
  };
  switch (request.op) {
    case "put":
      if (!isKey(r.key)) out.push("bad key");
      if (!isText(r.value, limits.maxValueBytes)) out.push("bad value");
      same("key");
      same("value");
      session();
      if (r.prevKv !== undefined && r.prevKv !== true) out.push("bad prevKv");
      only("key", "value", "prevKv", "session", "seq");
      break;
    case "delete":
      if ("key" in request) {
        if (!isKey(r.key)) out.push("bad key");
        same("key");
      } else {
        for (const field of ["prefix", "start", "end"]) if (r[field] !== undefined) same(field);
      }
      session();
      only("key", "prefix", "start", "end", "prevKv", "session", "seq");
      break;
    case "txn":
      for (const field of ["compare", "success", "failure"])
        if (!Array.isArray(r[field])) out.push(`bad ${field}`);
      session();
      only("compare", "success", "failure", "session", "seq");
      break;
    case "compact":
      if (!Number.isSafeInteger(r.revision) || (r.revision as number) < 0) out.push("bad revision");
      same("revision");
      only("revision");
      break;
    case "cas":
      if (!isKey(r.key)) out.push("bad key");
      if (r.expect !== null && !isText(r.expect, limits.maxValueBytes)) out.push("bad expect");
      if (!isText(r.value, limits.maxValueBytes)) out.push("bad value");
      if (!("expect" in frame)) out.push("expect missing from the frame");
      same("key");
      same("expect");
      same("value");
      session();
      only("key", "expect", "value", "session", "seq");
      break;
    case "incr":
      if (!isKey(r.key)) out.push("bad key");
      if (!Number.isSafeInteger(r.delta)) out.push("bad delta");
      same("key");
      same("delta");
      session();
      only("key", "delta", "session", "seq");
      break;
    case "get":
      if (!isKey(r.key)) out.push("bad key");
      if (!CONSISTENCIES.includes(r.consistency as string)) out.push("bad consistency");
      same("key");
      if (frame.consistency !== undefined && frame.consistency !== null) same("consistency");
      if (r.revision !== undefined) same("revision");
      only("key", "consistency", "revision");
      break;
    case "scan":
      for (const field of ["prefix", "start", "end"]) {
        if (r[field] !== undefined && !isText(r[field], limits.maxKeyBytes))
          out.push(`bad ${field}`);
        if (frame[field] !== undefined) same(field);
      }
      if (
        !Number.isSafeInteger(r.limit) ||
        (r.limit as number) < 1 ||
        (r.limit as number) > limits.maxScanLimit
      )
        out.push("bad limit");
      if (!CONSISTENCIES.includes(r.consistency as string)) out.push("bad consistency");
      if (r.revision !== undefined) same("revision");
      only("prefix", "start", "end", "limit", "consistency", "keysOnly", "countOnly", "revision");
      break;
    case "status":
    case "members":
    case "snapshot":
      only();
      break;
    case "member-add":
      for (const field of ["name", "peer", "client"])
        if (typeof r[field] !== "string") out.push(`bad ${field}`);
      if (typeof r.voter !== "boolean") out.push("bad voter");
      same("name");
      same("peer");
      same("client");
      only("name", "peer", "client", "voter");
      break;
    case "member-remove":
    case "member-promote":
      if (typeof r.name !== "string") out.push("bad name");
      same("name");
      only("name");
      break;
    case "transfer-leader":
      if (typeof r.to !== "string") out.push("bad to");
      same("to");
      only("to");
      break;
    case "vcreate":
      if (typeof r.collection !== "string" || r.collection === "") out.push("bad collection");
      if (!Number.isSafeInteger(r.dim) || (r.dim as number) < 1) out.push("bad dim");
      if (!["l2", "cosine", "ip"].includes(r.metric as string)) out.push("bad metric");
      if (r.engine !== undefined && typeof r.engine !== "string") out.push("bad engine");
      same("collection");
      same("dim");
      same("metric");
      session();
      only("collection", "dim", "metric", "engine", "params", "session", "seq");
      break;
    case "vput":
      if (typeof r.collection !== "string" || r.collection === "") out.push("bad collection");
      if (!isKey(r.key)) out.push("bad key");
      if (!isVector(r.vector)) out.push("bad vector");
      if (r.meta !== undefined && !isObject(r.meta)) out.push("bad meta");
      same("collection");
      same("key");
      session();
      only("collection", "key", "vector", "meta", "session", "seq");
      break;
    case "vdelete":
      if (typeof r.collection !== "string" || r.collection === "") out.push("bad collection");
      if (!isKey(r.key)) out.push("bad key");
      same("collection");
      same("key");
      session();
      only("collection", "key", "session", "seq");
      break;
    case "vsearch":
      if (typeof r.collection !== "string" || r.collection === "") out.push("bad collection");
      if (!isVector(r.vector)) out.push("bad vector");
      if (!Number.isSafeInteger(r.k) || (r.k as number) < 1) out.push("bad k");
      if (!CONSISTENCIES.includes(r.consistency as string)) out.push("bad consistency");
      same("collection");
      same("k");
      only("collection", "vector", "k", "ef", "filter", "consistency");
      break;
    default:
      out.push(`an op outside the contract: ${String((request as { op: unknown }).op)}`);
  }
  return out;
}

/** Checks one decode of `text` against the property; throws with a description if broken. */
function checkDecode(text: string, seen?: Map<string, number>): void {
  let result: DecodeResult;
  try {
    result = decodeRequest(text);
  } catch (error) {
    throw new Error(`decodeRequest threw on ${preview(text)}: ${String(error)}`);
  }
  const outcome = result.ok ? `ok ${result.request.op}` : result.error.code;
  seen?.set(outcome, (seen.get(outcome) ?? 0) + 1);
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch {
    frame = undefined;
  }
  const isObject = typeof frame === "object" && frame !== null && !Array.isArray(frame);
  const fields = (isObject ? frame : {}) as Record<string, unknown>;
  const id = fields.id;
  const validId =
    isObject &&
    ((typeof id === "number" && Number.isFinite(id)) ||
      (typeof id === "string" && id.length <= 256));
  if (result.ok) {
    if (!validId) throw new Error(`accepted a frame without a valid id: ${preview(text)}`);
    if (!Object.is(result.id, id)) throw new Error(`id not echoed: ${preview(text)}`);
    const found = problems(fields, result.request);
    if (found.length > 0)
      throw new Error(
        `accepted ${preview(text)} as ${preview(result.request)}: ${found.join("; ")}`,
      );
    return;
  }
  if (!CONTRACT_CODES.includes(result.error.code as (typeof CONTRACT_CODES)[number]))
    throw new Error(`code ${result.error.code} is not in the contract: ${preview(text)}`);
  // The decoder only ever judges the frame itself: malformed or too large.
  if (result.error.code !== "BAD_REQUEST" && result.error.code !== "TOO_LARGE")
    throw new Error(`the decoder gave ${result.error.code}: ${preview(text)}`);
  if (typeof result.error.message !== "string" || result.error.message.length === 0)
    throw new Error(`no message: ${preview(text)}`);
  if (validId) {
    if (!Object.is(result.id, id)) throw new Error(`id not echoed on error: ${preview(text)}`);
  } else if (result.id !== null) {
    throw new Error(`an error to a frame without a valid id must carry id null: ${preview(text)}`);
  }
  if (result.error.code === "TOO_LARGE") {
    const limit = defaultProtocolLimits.maxKeyBytes;
    const big = Object.values(fields).some((value) =>
      typeof value === "string"
        ? utf8(value) > limit
        : typeof value === "object" && value !== null && JSON.stringify(value).length > limit,
    );
    if (!big) throw new Error(`TOO_LARGE without a large string field: ${preview(text)}`);
  }
}

const OPS = [
  "put",
  "get",
  "delete",
  "cas",
  "incr",
  "scan",
  "status",
  "members",
  "member-add",
  "member-remove",
  "member-promote",
  "transfer-leader",
  "snapshot",
  "vcreate",
  "vput",
  "vdelete",
  "vsearch",
];
const FIELDS = [
  "key",
  "value",
  "expect",
  "delta",
  "consistency",
  "prefix",
  "start",
  "end",
  "limit",
  "name",
  "peer",
  "client",
  "voter",
  "to",
  "session",
  "seq",
  "collection",
  "dim",
  "metric",
  "engine",
  "vector",
  "meta",
  "k",
];

const bigKeyOk = "€".repeat(1365);
const bigKeyOut = "€".repeat(1366);
const bigValueOut = "x".repeat(MiB1 + 1);

/** Plausible values for any field: right, wrong type, wrong shape, edge cases. */
const fieldValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.string({ maxLength: 8 }) },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 6 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 6 }) }, // lone surrogates too
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "",
      "\u0000",
      "\u0000s:x",
      "\ud800",
      "a\udfff",
      "😀",
      "linearizable",
      "lease",
      "stale",
      "n4",
      "bad name",
      "127.0.0.1:7001",
      "h:99999",
      bigKeyOk,
      bigKeyOut,
      bigValueOut,
    ),
  },
  { weight: 3, arbitrary: fc.integer({ min: -3, max: 20_000 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(0, 1, -1, 1.5, 2 ** 53, -(2 ** 53), 1e308, Number.MAX_VALUE),
  },
  { weight: 2, arbitrary: fc.constantFrom(null, true, false, [], {}, ["a"], { a: 1 }) },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { maxLength: 4 }),
      fc.constantFrom([1, 2], [0.5], [1, "2"], [[1]], "l2", "cosine", "ip", "flat", "hnsw"),
      fc.dictionary(fc.string({ maxLength: 3 }), fc.oneof(fc.string(), fc.integer(), fc.boolean())),
      fc.constantFrom({ a: { b: 1 } }, { a: [1] }, { "\ud800": 1 }, { s: "\udc00" }),
    ),
  },
);

const idValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.integer() },
  { weight: 3, arbitrary: fc.string({ maxLength: 10 }) },
  { weight: 1, arbitrary: fc.double() }, // may be NaN or ±Infinity: JSON null
  { weight: 1, arbitrary: fc.constantFrom(null, true, {}, [], "i".repeat(256), "i".repeat(257)) },
);

/** A frame built from an op and a random subset of fields, each maybe valid, maybe not. */
const nearValidFrame: fc.Arbitrary<string> = fc
  .record(
    {
      id: idValue,
      op: fc.oneof(
        { weight: 9, arbitrary: fc.constantFrom(...OPS) },
        { weight: 1, arbitrary: fc.constantFrom("vput", "Put", "", 1, null, "constructor") },
      ),
      fields: fc.dictionary(fc.constantFrom(...FIELDS), fieldValue, { maxKeys: 6 }),
    },
    { requiredKeys: ["op", "fields"] },
  )
  .map(({ id, op, fields }) =>
    JSON.stringify(id === undefined ? { op, ...fields } : { id, op, ...fields }),
  );

/** A structurally valid frame of each op, then one field replaced by anything. */
const validFrame: fc.Arbitrary<Record<string, unknown>> = fc.constantFrom<Record<string, unknown>>(
  { op: "put", key: "k", value: "v" },
  { op: "put", key: "k", value: "v", session: "s", seq: 1 },
  { op: "get", key: "k", consistency: "lease" },
  { op: "delete", key: "k" },
  { op: "cas", key: "k", expect: null, value: "v" },
  { op: "incr", key: "k", delta: 2 },
  { op: "scan", prefix: "p", limit: 10 },
  { op: "scan", start: "a", end: "z", consistency: "stale" },
  { op: "status" },
  { op: "members" },
  { op: "snapshot" },
  { op: "member-add", name: "n4", peer: "h:1", client: "h:2" },
  { op: "member-remove", name: "n4" },
  { op: "transfer-leader", to: "n2" },
  { op: "vcreate", collection: "c", dim: 2, metric: "cosine" },
  { op: "vput", collection: "c", key: "k", vector: [1, 2], meta: { a: 1 } },
  { op: "vdelete", collection: "c", key: "k" },
  { op: "vsearch", collection: "c", vector: [1, 2], k: 5, consistency: "lease" },
);
const mutatedFrame: fc.Arbitrary<string> = fc
  .tuple(validFrame, fc.integer(), fc.constantFrom("id", "op", ...FIELDS), fieldValue)
  .map(([frame, id, field, value]) => JSON.stringify({ id, ...frame, [field]: value }));

/** A valid frame with one field replaced by a string at or past a size limit. */
const oversizedFrame: fc.Arbitrary<string> = fc
  .tuple(
    validFrame,
    fc.integer(),
    fc.constantFrom("key", "value", "expect", "prefix", "start", "end"),
    fc.constantFrom(bigKeyOk, bigKeyOut, bigValueOut, `${bigKeyOut}\ud800`, `\u0000${bigKeyOut}`),
  )
  .map(([frame, id, field, value]) => JSON.stringify({ id, ...frame, [field]: value }));

const anyText: fc.Arbitrary<string> = fc.oneof(
  oversizedFrame,
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.json(),
  fc.jsonValue().map((value) => JSON.stringify(value) ?? "null"),
  nearValidFrame,
  mutatedFrame,
  // Truncated and spliced versions of valid frames.
  fc
    .tuple(mutatedFrame, fc.nat(), fc.string({ maxLength: 3 }))
    .map(([text, cut, junk]) => text.slice(0, cut % (text.length + 1)) + junk),
);

describe("protocol - property: decodeRequest never throws and always answers per the contract", () => {
  test(`protocol - random strings, JSON values and near-valid frames (fast-check seed ${PROPERTY_SEED})`, () => {
    const seen = new Map<string, number>();
    fc.assert(
      fc.property(anyText, (text) => {
        checkDecode(text, seen);
      }),
      { seed: PROPERTY_SEED, numRuns: 4_000, verbose: 1 },
    );
    // The generators reach both error codes and accept frames of every op (not only refusals).
    const outcomes = [...seen.keys()].sort();
    for (const op of OPS)
      expect(outcomes, `seen: ${JSON.stringify([...seen])}`).toContain(`ok ${op}`);
    expect(outcomes).toContain("BAD_REQUEST");
    expect(outcomes).toContain("TOO_LARGE");
  });

  test(`protocol - every valid frame of every op is accepted (fast-check seed ${PROPERTY_SEED + 1})`, () => {
    const text = fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 });
    const key = text.filter((k) => k.charCodeAt(0) !== 0);
    const frames = fc.oneof(
      fc.record({ op: fc.constant("put"), key, value: fc.string({ unit: "grapheme" }) }),
      fc.record({
        op: fc.constant("get"),
        key,
        consistency: fc.constantFrom(...CONSISTENCIES),
      }),
      fc.record({ op: fc.constant("delete"), key }),
      fc.record({ op: fc.constant("cas"), key, expect: fc.option(text), value: text }),
      fc.record({ op: fc.constant("incr"), key, delta: fc.maxSafeInteger() }),
      fc.record(
        {
          op: fc.constant("scan"),
          prefix: text,
          start: text,
          end: text,
          limit: fc.integer({ min: 1, max: defaultProtocolLimits.maxScanLimit }),
          consistency: fc.constantFrom(...CONSISTENCIES),
        },
        { requiredKeys: ["op"] },
      ),
    );
    fc.assert(
      fc.property(frames, fc.oneof(fc.integer(), fc.string({ maxLength: 20 })), (frame, id) => {
        const wire = JSON.stringify({ id, ...frame });
        const result = decodeRequest(wire);
        if (!result.ok)
          throw new Error(`refused ${wire}: ${result.error.code} ${result.error.message}`);
        checkDecode(wire);
      }),
      { seed: PROPERTY_SEED + 1, numRuns: 1_000, verbose: 1 },
    );
  });
});
