import { describe, expect, it } from "vitest";
import { nodeFaultKinds, runNodeEmulation } from "../../src/remu/mod.js";
import type { NodeHost } from "../../src/remu/node/host.js";
import { LeaseLedger } from "../../src/remu/node/lease-checks.js";

// remu's node mode covers leases (issue 12): lease holders grant, keep alive, abandon and
// revoke leases on the production pipeline through crashes, partitions and leader changes;
// node/lease-checks.ts checks never early, kept alive, abandoned within its bound, replicas
// agree. Replay a seed: npm run fuzz -- --mode node --faults <faults> --start S --seeds 1 --ms 3000

const faults = nodeFaultKinds.filter((kind) => kind !== "membership");

describe("remu node mode - leases", () => {
  it("leases through crashes and leader changes: granted, renewed, abandoned, expired", async () => {
    const totals = { granted: 0, renewed: 0, abandoned: 0, expired: 0, revoked: 0, crashes: 0 };
    let leaderChanges = 0;
    for (const seed of [20, 25, 55]) {
      const result = await runNodeEmulation({
        nodes: 3,
        seed,
        durationMs: 3_000,
        faults,
        leaseClients: 4,
      });
      expect(
        result.ok,
        `SEED=${seed} ${result.failure}\n${result.trace.slice(-60).join("\n")}`,
      ).toBe(true);
      const leases = result.summary.leases as Record<string, number>;
      for (const key of ["granted", "renewed", "abandoned", "expired", "revoked"] as const)
        totals[key] += leases[key]!;
      totals.crashes += Number(result.summary.crashes);
      leaderChanges += leases.leaderships! - 1;
    }
    // Not vacuous: leases were granted, kept alive, abandoned and expired, under crashes and
    // leader changes.
    expect(totals.granted).toBeGreaterThan(10);
    expect(totals.renewed).toBeGreaterThan(30);
    expect(totals.abandoned).toBeGreaterThan(3);
    expect(totals.expired).toBeGreaterThan(3);
    expect(totals.revoked).toBeGreaterThan(0);
    expect(totals.crashes).toBeGreaterThan(5);
    expect(leaderChanges).toBeGreaterThan(5);
  }, 120_000);

  it("a run with leases is deterministic (same seed, same trace and summary)", async () => {
    const options = { nodes: 3, seed: 25, durationMs: 1_500, faults, leaseClients: 3 };
    const first = await runNodeEmulation(options);
    const second = await runNodeEmulation(options);
    expect(first.ok, `SEED=25 ${first.failure}`).toBe(true);
    expect(Number((first.summary.leases as Record<string, number>).granted)).toBeGreaterThan(0);
    expect(second.trace).toEqual(first.trace);
    expect(second.summary).toEqual(first.summary);
  }, 60_000);
});

/** A host that leads (or follows) `term` with every node up and linked; no state machine. */
function host(name: string, role: string, term: number): NodeHost {
  const status = {
    role,
    term,
    lastIndex: 5,
    commitIndex: 5,
    appliedIndex: 5,
    config: { voters: ["n1", "n2", "n3"], learners: [], outgoing: [] },
  };
  return {
    name,
    retired: false,
    life: { raft: { status: () => status }, pipeline: { storage: { machine: null } } },
  } as unknown as NodeHost;
}

describe("remu node mode - the lease checks themselves", () => {
  const ledger = (linked = true) => {
    const clock = { now: 0 };
    const checks = new LeaseLedger(
      { seed: 99, electionMs: 100, slackMs: 200 },
      () => clock.now,
      () => linked,
    );
    const at = (now: number, hosts: NodeHost[] = []) => {
      clock.now = now;
      checks.observe(hosts);
    };
    return { checks, at };
  };
  const leader1 = [host("n1", "leader", 1), host("n2", "follower", 1), host("n3", "follower", 1)];
  const leader2 = [host("n1", "follower", 2), host("n2", "leader", 2), host("n3", "follower", 2)];

  it("never early: a lease seen gone before ttl after its last acknowledged renewal fails", () => {
    const { checks, at } = ledger();
    at(0, leader1);
    checks.granted("7", 1, 1, "L/1/1", 0);
    checks.renewed("7", 300);
    at(1_200, leader1);
    expect(() => checks.ended("7", "keep-alive NOT_FOUND")).toThrow(
      /lease-early: seed 99: lease 7 .* before its last acknowledged renewal \(sent 300\) \+ ttl = 1300/,
    );
  });

  it("kept alive: lost across a short election fails; after ttl/3 + ET under one leader it may end", () => {
    const { checks, at } = ledger();
    at(0, leader1);
    checks.granted("7", 1, 1, "L/1/1", 0);
    checks.renewed("7", 333);
    at(500, []); // n1 crashed: no leader until 1,000
    at(1_000, leader2);
    at(1_340, leader2);
    expect(() => checks.ended("7", "gone on n2")).toThrow(/lease-lost: seed 99: lease 7/);

    const quiet = ledger();
    quiet.at(0, leader1);
    quiet.checks.granted("8", 1, 1, "L/1/2", 0);
    quiet.checks.renewed("8", 333);
    quiet.at(1_400, leader1); // n1 led 1,067 ms without acknowledging a keep-alive
    quiet.checks.ended("8", "gone on n1");
    expect(quiet.checks.stats.lost).toBe(1);
  });

  it("abandoned: still there past max(last + ttl + 2 ET, leader since + ttl/3 + ET) + slack fails", () => {
    const { checks, at } = ledger();
    at(0, leader1);
    checks.granted("7", 1, 1, "L/1/1", 0);
    at(100, leader1);
    checks.stopped("7");
    at(1_400, leader1);
    expect(() => at(1_401, leader1)).toThrow(
      /lease-late: seed 99: lease 7 .* still exists at 1401, past its bound 1400/,
    );
  });

  it("abandoned: no bound while the leader has no quorum (nothing can be deleted)", () => {
    const { checks, at } = ledger(false);
    at(0, leader1);
    checks.granted("7", 1, 1, "L/1/1", 0);
    checks.stopped("7");
    expect(() => at(5_000, leader1)).not.toThrow();
  });
});
