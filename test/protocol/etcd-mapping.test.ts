import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { memberId, spanOf, text } from "../../stages/ingress/etcd/bytes.js";
import { EtcdError, nativeError } from "../../stages/ingress/etcd/errors.js";
import { rangeResponse, rangeShape } from "../../stages/ingress/etcd/range.js";

/** The etcd door's translations (stages/ingress/etcd): key spans, bytes, errors, ranges. */

const b = (s: string | number[]) => (typeof s === "string" ? Buffer.from(s) : Buffer.from(s));

describe("etcd door - key spans as etcd defines [key, range_end)", () => {
  it("one key, a prefix, from a key, all keys, an explicit range", () => {
    expect(spanOf(b("a"), b(""))).toEqual({ key: "a" });
    expect(spanOf(b("app/"), b("app0"))).toEqual({ prefix: "app/" });
    expect(spanOf(b("a"), b([0]))).toEqual({ start: "a" });
    expect(spanOf(b([0]), b([0]))).toEqual({ prefix: "" });
    expect(spanOf(b(""), b([0]))).toEqual({ prefix: "" });
    expect(spanOf(b("a"), b("c"))).toEqual({ start: "a", end: "c" });
    // "a\xff"'s prefix end is "b": not UTF-8, but the span is still recognised as one.
    expect(() => spanOf(b([0x61, 0xff]), b("b"))).toThrow(/key is not valid UTF-8/);
  });

  it("an empty key is etcd's 'key is not provided'; non-UTF-8 bytes are refused", () => {
    expect(() => spanOf(b(""), b(""))).toThrow("etcdserver: key is not provided");
    expect(() => text(b([0xc3, 0x28]), "value")).toThrow(/value is not valid UTF-8/);
    expect(text(b("héllo"), "value")).toBe("héllo");
  });

  it("member ids are stable uint64s, different per name", () => {
    expect(memberId("n1")).toBe(memberId("n1"));
    expect(memberId("n1")).not.toBe(memberId("n2"));
    expect(BigInt(memberId("n1")) < 2n ** 64n).toBe(true);
  });
});

describe("etcd door - native errors as etcd's clients recognise them", () => {
  const cases: [string, string, status, string][] = [
    [
      "COMPACTED",
      "revision 3 is older",
      status.OUT_OF_RANGE,
      "etcdserver: mvcc: required revision has been compacted",
    ],
    [
      "BAD_REQUEST",
      '"revision" is past the current revision 9',
      status.OUT_OF_RANGE,
      "etcdserver: mvcc: required revision is a future revision",
    ],
    [
      "BAD_REQUEST",
      `"revision" 12 is past this node's applied revision 9`,
      status.OUT_OF_RANGE,
      "etcdserver: mvcc: required revision is a future revision",
    ],
    [
      "BAD_REQUEST",
      '"revision" 12 inside the txn is past the current revision 9',
      status.OUT_OF_RANGE,
      "etcdserver: mvcc: required revision is a future revision",
    ],
    [
      "BAD_REQUEST",
      '"success": the key "a" is both put and deleted',
      status.INVALID_ARGUMENT,
      "etcdserver: duplicate key given in txn request",
    ],
    [
      "BAD_REQUEST",
      'ignoreValue/ignoreLease: the key "a" is not found',
      status.INVALID_ARGUMENT,
      "etcdserver: key not found",
    ],
    ["UNAVAILABLE", "no leader is known right now", status.UNAVAILABLE, "etcdserver: no leader"],
    [
      "UNAVAILABLE",
      "leadership changed; the write was not applied",
      status.UNAVAILABLE,
      "etcdserver: leader changed",
    ],
    ["TIMEOUT", "no answer in time", status.UNAVAILABLE, "etcdserver: request timed out"],
    [
      "OVERLOADED",
      "the node is overloaded",
      status.RESOURCE_EXHAUSTED,
      "etcdserver: too many requests",
    ],
    ["UNAUTHORIZED", "admin op", status.PERMISSION_DENIED, "etcdserver: permission denied"],
    [
      "NOT_FOUND",
      "lease 5 is unknown, expired or revoked",
      status.NOT_FOUND,
      "etcdserver: requested lease not found",
    ],
    ["NOT_LEADER", "n2 is the leader", status.FAILED_PRECONDITION, "etcdserver: not leader"],
    [
      "TOO_LARGE",
      "a txn holds at most 128 compares and ops",
      status.INVALID_ARGUMENT,
      "etcdserver: too many operations in txn request",
    ],
    [
      "BAD_REQUEST",
      '"success": the key "k" is put twice',
      status.INVALID_ARGUMENT,
      "etcdserver: duplicate key given in txn request",
    ],
  ];
  it.each(cases)("%s (%s)", (code, message, grpcCode, etcdMessage) => {
    const error = nativeError({ code: code as never, message });
    expect(error).toBeInstanceOf(EtcdError);
    expect(error.code).toBe(grpcCode);
    expect(error.message).toBe(etcdMessage);
    expect(error.native).toEqual({ code, message });
  });
});

describe("etcd door - ranges", () => {
  const item = (key: string, version: number) => ({
    key,
    value: `v-${key}`,
    createRevision: version,
    modRevision: 10 + version,
    version,
    lease: null,
  });

  it("key order ascending is native: the limit goes to the scan", () => {
    const shape = rangeShape({ key: b("a"), range_end: b("b"), limit: "2" }, 100);
    expect(shape.frame).toEqual({ op: "scan", prefix: "a", consistency: "linearizable", limit: 2 });
    expect(shape.local).toBe(false);
  });

  it("another sort is done here over the whole range, then cut to the limit", () => {
    const shape = rangeShape(
      {
        key: b("a"),
        range_end: b("b"),
        limit: "2",
        sort_order: "DESCEND",
        sort_target: "VERSION",
        serializable: true,
      },
      100,
    );
    expect(shape.frame).toMatchObject({ limit: 100, consistency: "stale" });
    const reply = { items: [item("a1", 1), item("a2", 3), item("a3", 2)], more: false, count: 3 };
    const response = rangeResponse(shape, reply);
    expect((response.kvs as { key: Buffer }[]).map((kv) => kv.key.toString())).toEqual([
      "a2",
      "a3",
    ]);
    expect(response.more).toBe(true);
    expect(response.count).toBe(3);
  });

  it("a sorted range larger than the scan limit is refused, not answered partly", () => {
    const shape = rangeShape({ key: b("a"), range_end: b("b"), sort_order: "DESCEND" }, 2);
    expect(() =>
      rangeResponse(shape, { items: [item("a1", 1), item("a2", 1)], more: true, count: 5 }),
    ).toThrow(/at most 2 keys/);
  });

  it("mod revision filters keep the count of the whole range, as etcd", () => {
    const shape = rangeShape({ key: b("a"), range_end: b("b"), min_mod_revision: "12" }, 100);
    const reply = { items: [item("a1", 1), item("a2", 3)], more: false, count: 2 };
    const response = rangeResponse(shape, reply);
    expect((response.kvs as { key: Buffer }[]).map((kv) => kv.key.toString())).toEqual(["a2"]);
    expect(response.count).toBe(2);
  });
});
