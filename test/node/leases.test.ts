import { describe, expect, test } from "vitest";
import { leaseDeadline } from "../../stages/apply/lease-commands.js";
import { LEASE_PREFIX, LeaseTable, type LeaseWrite } from "../../stages/apply/leases.js";
import type { KvItem } from "../../storage/engines/engine.js";

/** The lease table alone: its changes, the raw writes that persist them, and load(). */

/** The engine's reserved records as the writes leave them. */
class Records {
  readonly map = new Map<string, string>();
  write(writes: readonly LeaseWrite[] | null): void {
    for (const { key, value } of writes ?? []) {
      if (value === null) this.map.delete(key);
      else this.map.set(key, value);
    }
  }
  items(): KvItem[] {
    return [...this.map].sort().map(([key, value]) => ({ key, value }));
  }
}

describe("lease table", () => {
  test("lease table - attach moves a key between leases; detach and revoke clean both indexes", () => {
    const table = new LeaseTable();
    const records = new Records();
    records.write(table.grant("5", 10, 1_000, 1));
    records.write(table.grant("6", 20, 1_000, 1));
    records.write(table.attach("a", "5"));
    records.write(table.attach("b", "5"));
    records.write(table.attach("a", "6")); // a moves to lease 6
    expect(table.attach("b", "5")).toEqual([]); // no change, no write
    expect(table.get("5")?.keys).toEqual(["b"]);
    expect(table.get("6")?.keys).toEqual(["a"]);
    records.write(table.attach("b", null));
    expect(table.leaseOf("b")).toBeNull();
    const revoked = table.revoke("6")!;
    records.write(revoked.writes);
    expect(revoked.keys).toEqual(["a"]);
    expect(table.leaseOf("a")).toBeNull();
    expect(table.revoke("6")).toBeNull();
    expect(table.renew("6", 2_000, 1)).toBeNull();
    // Only lease 5's record is left, with no keys.
    expect(records.items().map((item) => item.key)).toEqual([`${LEASE_PREFIX}r:5`]);
    expect(() => table.attach("c", "6")).toThrow(/unknown lease/);
    expect(() => table.grant("5", 1, 0, 1)).toThrow(/granted twice/);
  });

  test("lease table - load rebuilds records and the key index from the writes", () => {
    const table = new LeaseTable();
    const records = new Records();
    records.write(table.grant("100", 10, 1_000, 1));
    records.write(table.grant("20", 10, 1_000, 1));
    records.write(table.renew("100", 4_000, 2));
    records.write(table.attach("x", "100"));
    records.write(table.attach("y", "100"));
    const loaded = new LeaseTable();
    loaded.load([...records.items(), { key: "user", value: "ignored" }]);
    expect(loaded.ids()).toEqual(["20", "100"]);
    expect(loaded.get("100")).toEqual({
      record: { ttl: 10, renewTs: 4_000, renewTerm: 2 },
      keys: ["x", "y"],
    });
    expect(loaded.leaseOf("y")).toBe("100");
    // A key attached to a lease that is gone is a broken invariant, not silently dropped.
    expect(() => new LeaseTable().load([{ key: `${LEASE_PREFIX}k:z`, value: "7" }])).toThrow(
      /unknown lease 7/,
    );
  });

  test("lease table - the deadline rule and due() order", () => {
    const record = { ttl: 2, renewTs: 1_000, renewTerm: 4 };
    expect(leaseDeadline(record, 4, 500)).toBe(3_000);
    expect(leaseDeadline(record, 5, 500)).toBe(3_500);
    const table = new LeaseTable();
    table.grant("3", 5, 0, 1);
    table.grant("1", 1, 0, 1);
    table.grant("2", 1, 0, 1);
    expect(table.due({ now: 999, term: 1, extendMs: 0 })).toEqual([]);
    expect(table.due({ now: 1_000, term: 1, extendMs: 0 })).toEqual(["1", "2"]);
    expect(table.due({ now: 10_000, term: 1, extendMs: 0 })).toEqual(["1", "2", "3"]);
    expect(table.due({ now: 10_000, term: 1, extendMs: 0 }, 2)).toEqual(["1", "2"]);
    expect(table.remainingSeconds("3", 1_500)).toBe(4);
    expect(table.remainingSeconds("1", 5_000)).toBe(0);
    expect(table.remainingSeconds("9", 0)).toBeNull();
  });
});
