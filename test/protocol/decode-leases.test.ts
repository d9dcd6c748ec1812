import { describe, expect, test } from "vitest";
import { decodeRequest } from "../../stages/protocol-decode.js";

/** The gateway's lease ops and put's `lease` (CONTRACT §5): exact names, every field checked. */

function decode(frame: Record<string, unknown>) {
  return decodeRequest(JSON.stringify({ id: 1, ...frame }));
}

function badField(frame: Record<string, unknown>, field: string): void {
  const result = decode(frame);
  expect(result.ok).toBe(false);
  if (result.ok) return;
  expect(result.id).toBe(1);
  expect(result.error.code).toBe("BAD_REQUEST");
  expect(result.error.message).toContain(`"${field}"`);
}

describe("protocol decode - leases", () => {
  test("decode - every lease op with the contract's fields", () => {
    expect(decode({ op: "lease-grant", ttl: 10 })).toEqual({
      ok: true,
      id: 1,
      request: { op: "lease-grant", ttl: 10 },
    });
    expect(decode({ op: "lease-grant", ttl: 10, session: "s", seq: 3 })).toMatchObject({
      ok: true,
      request: { op: "lease-grant", ttl: 10, session: "s", seq: 3 },
    });
    for (const op of ["lease-keepalive", "lease-revoke"])
      expect(decode({ op, lease: "7587862071375912345" })).toEqual({
        ok: true,
        id: 1,
        request: { op, lease: "7587862071375912345" },
      });
    expect(decode({ op: "lease-ttl", lease: "9", keys: true })).toEqual({
      ok: true,
      id: 1,
      request: { op: "lease-ttl", lease: "9", keys: true, consistency: "linearizable" },
    });
    expect(decode({ op: "lease-ttl", lease: "9" })).toMatchObject({
      request: { keys: false },
    });
    expect(decode({ op: "lease-list", consistency: "stale" })).toEqual({
      ok: true,
      id: 1,
      request: { op: "lease-list", consistency: "stale" },
    });
    expect(decode({ op: "put", key: "k", value: "v", lease: "12" })).toEqual({
      ok: true,
      id: 1,
      request: { op: "put", key: "k", value: "v", lease: "12" },
    });
    // null or absent: no lease.
    expect(decode({ op: "put", key: "k", value: "v", lease: null })).toEqual({
      ok: true,
      id: 1,
      request: { op: "put", key: "k", value: "v" },
    });
  });

  test("decode - ttl must be an integer number of seconds, at least 1", () => {
    for (const ttl of [0, -1, 1.5, "10", null, true, 9_000_000_001, Number.MAX_SAFE_INTEGER + 2])
      badField({ op: "lease-grant", ttl }, "ttl");
    badField({ op: "lease-grant" }, "ttl");
  });

  test("decode - a lease id is the decimal string of a positive 64-bit integer", () => {
    const bad = [
      "0",
      "-1",
      "01",
      "1.0",
      " 1",
      "1e3",
      "",
      "9223372036854775808", // 2^63
      "99999999999999999999",
      12,
      null,
      ["1"],
    ];
    for (const lease of bad) {
      badField({ op: "lease-keepalive", lease }, "lease");
      badField({ op: "lease-revoke", lease }, "lease");
      badField({ op: "lease-ttl", lease }, "lease");
      if (lease !== null) badField({ op: "put", key: "k", value: "v", lease }, "lease");
    }
    expect(decode({ op: "lease-revoke", lease: "9223372036854775807" }).ok).toBe(true);
    badField({ op: "lease-keepalive" }, "lease");
  });

  test("decode - the other fields of lease ops", () => {
    badField({ op: "lease-ttl", lease: "1", keys: "yes" }, "keys");
    badField({ op: "lease-list", consistency: "fast" }, "consistency");
    badField({ op: "lease-grant", ttl: 5, session: "s" }, "seq");
  });
});
