import { describe, expect, test } from "vitest";
import type { ProposeResult } from "../../raft/types.js";
import { decodeCommand } from "../../stages/apply/commands.js";
import { applyLeaseCommand } from "../../stages/apply/lease-apply.js";
import type { LeaseCommand } from "../../stages/apply/lease-commands.js";
import { LeaseTable } from "../../stages/apply/leases.js";
import { LeaseExpiry } from "../../stages/raft-step/lease-expiry.js";

/**
 * The leader's expiry check (raft-step/lease-expiry.ts) against the replicated lease table,
 * on a hand-driven clock: the contract's bounds (ttl + one election timeout while the leader
 * stays, ttl + two across a leader change) and never an early expiry.
 */

const tickMs = 100;
const electionTimeoutMs = 1_000;

/** One node's view: a lease table applied in log order, a role and a term set by the test. */
class World {
  now = 0;
  role = "leader";
  term = 1;
  index = 0;
  readonly table = new LeaseTable();
  /** Expire entries proposed and not yet committed (the test commits them). */
  readonly pending: { data: Uint8Array; proposed: (result: ProposeResult) => void }[] = [];
  proposals = 0;
  readonly expiry = new LeaseExpiry(
    { now: () => this.now },
    {
      status: () => ({ role: this.role, term: this.term }),
      askDue: (query, resolve) => resolve(this.table.due(query)),
      propose: (data, proposed) => {
        this.proposals++;
        this.pending.push({ data, proposed });
      },
    },
    { electionTimeoutMs, checkEveryMs: electionTimeoutMs / 4 },
  );

  apply(command: LeaseCommand, ts = this.now, term = this.term): void {
    this.index++;
    applyLeaseCommand(this.table, command, { index: this.index, term, ts });
  }

  /** Propose answers, commit and apply what the leader proposed (a healthy cluster). */
  commitPending(): void {
    for (const { data, proposed } of this.pending.splice(0)) {
      proposed({ ok: true, index: this.index + 1, term: this.term });
      const command = decodeCommand(data);
      this.apply(command.lease!, command.ts);
      this.expiry.applied(this.index);
    }
  }

  /** Run ticks until `until`, committing each tick's proposals; returns when `id` vanished. */
  runUntil(until: number, id: string, keepAliveEveryMs = 0): number | null {
    while (this.now < until) {
      this.now += tickMs;
      if (keepAliveEveryMs > 0 && this.now % keepAliveEveryMs === 0)
        this.apply({ op: "keepalive", id });
      this.expiry.tick();
      this.commitPending();
      if (!this.table.has(id)) return this.now;
    }
    return null;
  }
}

describe("lease expiry on the leader's clock", () => {
  test("lease expiry - a lease left alone expires after its ttl and within ttl + one election timeout", () => {
    const world = new World();
    world.now = 10_000;
    world.apply({ op: "grant", ttl: 3 });
    const gone = world.runUntil(20_000, "1");
    expect(gone).not.toBeNull();
    expect(gone!).toBeGreaterThanOrEqual(10_000 + 3_000);
    expect(gone!).toBeLessThanOrEqual(10_000 + 3_000 + electionTimeoutMs);
  });

  test("lease expiry - keep-alives at ttl/3 keep a lease for ever; it goes ttl after they stop", () => {
    const world = new World();
    world.apply({ op: "grant", ttl: 3 });
    expect(world.runUntil(60_000, "1", 1_000)).toBeNull();
    const lastRenewal = world.table.get("1")!.record.renewTs;
    const gone = world.runUntil(120_000, "1");
    expect(gone! - lastRenewal).toBeGreaterThanOrEqual(3_000);
    expect(gone! - lastRenewal).toBeLessThanOrEqual(3_000 + electionTimeoutMs);
  });

  test("lease expiry - a new leader extends leases renewed before it by an election timeout, then expires them within ttl + two election timeouts", () => {
    const world = new World();
    world.apply({ op: "grant", ttl: 2 });
    world.runUntil(5_000, "1", 500); // renewed every 500 ms under the leader of term 1
    const lastRenewal = world.table.get("1")!.record.renewTs;
    // The leader dies at once; an election takes an election timeout; this node wins term 2.
    world.role = "follower";
    world.term = 2;
    world.runUntil(lastRenewal + electionTimeoutMs, "1");
    world.role = "leader";
    const gone = world.runUntil(lastRenewal + 10_000, "1");
    expect(gone! - lastRenewal).toBeGreaterThanOrEqual(2_000 + electionTimeoutMs);
    expect(gone! - lastRenewal).toBeLessThanOrEqual(2_000 + 2 * electionTimeoutMs);
  });

  test("lease expiry - a lease whose deadline passed during a long election goes a keep-alive period and an election timeout after the new leader took office", () => {
    const world = new World();
    world.apply({ op: "grant", ttl: 3 });
    world.role = "candidate";
    world.term = 3;
    expect(world.runUntil(10_000, "1")).toBeNull(); // nobody leads: nothing expires
    world.role = "leader";
    const tookOffice = world.now + tickMs; // its first tick as leader
    const grace = 1_000 + electionTimeoutMs;
    const gone = world.runUntil(20_000, "1");
    expect(gone! - tookOffice).toBeGreaterThanOrEqual(grace);
    expect(gone! - tookOffice).toBeLessThanOrEqual(grace + electionTimeoutMs / 4 + tickMs);
  });

  test("lease expiry - a kept-alive lease outlives an election longer than its ttl: the new leader gives it a keep-alive period and an election timeout from taking office", () => {
    const world = new World();
    world.apply({ op: "grant", ttl: 2 });
    world.runUntil(5_000, "1", 500);
    const lastRenewal = world.table.get("1")!.record.renewTs;
    // No leader for 4 s (more than the ttl plus an election timeout): keep-alives fail.
    world.role = "candidate";
    world.term = 2;
    expect(world.runUntil(lastRenewal + 4_000, "1")).toBeNull();
    world.role = "leader";
    const tookOffice = world.now;
    // The client's next keep-alive (every ttl/3) reaches the new leader just in time.
    expect(world.runUntil(tookOffice + 600, "1")).toBeNull();
    world.apply({ op: "keepalive", id: "1" });
    expect(world.runUntil(tookOffice + 10_000, "1", 500)).toBeNull();
  });

  test("lease expiry - ids in a proposed expiry are not proposed again until applied, and are asked again in a new term", () => {
    const world = new World();
    world.apply({ op: "grant", ttl: 1 });
    world.now = 2_000;
    world.expiry.tick();
    expect(world.pending).toHaveLength(1);
    for (let k = 0; k < 10; k++) {
      world.now += electionTimeoutMs;
      world.expiry.tick();
    }
    expect(world.pending).toHaveLength(1);
    // Leadership is lost and won again: the old entry may never commit; the lease is asked again.
    world.pending.splice(0);
    world.term = 2;
    world.expiry.tick(); // takes office: the lease gets ttl/3 + an election timeout from now
    expect(world.pending).toHaveLength(0);
    world.now += 1_000 / 3 + electionTimeoutMs;
    world.expiry.tick();
    expect(world.pending).toHaveLength(1);
    world.commitPending();
    expect(world.table.has("1")).toBe(false);
  });

  test("lease expiry - a follower proposes nothing", () => {
    const world = new World();
    world.role = "follower";
    world.apply({ op: "grant", ttl: 1 });
    world.runUntil(10_000, "1");
    expect(world.proposals).toBe(0);
    expect(world.table.has("1")).toBe(true);
  });
});
