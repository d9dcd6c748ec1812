import { describe, expect, it } from "vitest";
import { EntryType, RaftLog, type Role } from "../../raft/mod.js";
import {
  type CheckedNode,
  Cluster,
  InvariantChecker,
  InvariantViolation,
  runEmulation,
} from "../../src/remu/mod.js";

/**
 * A planted node state for the checker: what no RaftNode can be brought to through its API
 * (two leaders of one term, a commit going back) is exactly what the checker must catch.
 */
interface FakeNode extends CheckedNode {
  log: RaftLog;
  role: Role;
  term: number;
  commitIndex: number;
  appliedIndex: number;
}

function node(id: string): FakeNode {
  const fake: FakeNode = {
    id,
    role: "follower",
    term: 0,
    commitIndex: 0,
    appliedIndex: 0,
    log: new RaftLog(),
    status: () => fake,
  };
  return fake;
}

function violation(fn: () => void): InvariantViolation {
  try {
    fn();
  } catch (error) {
    if (error instanceof InvariantViolation) return error;
    throw error;
  }
  throw new Error("no invariant violation was raised");
}

describe("remu - invariant checker", () => {
  it("checker - two leaders in one term break election safety", () => {
    const checker = new InvariantChecker();
    const a = node("a");
    const b = node("b");
    for (const raft of [a, b]) {
      raft.term = 3;
      raft.role = "leader";
    }
    checker.check(a, 1, [b]);
    expect(violation(() => checker.check(b, 1, [a])).kind).toBe("election-safety");
  });

  it("checker - different histories under one term break log matching", () => {
    const checker = new InvariantChecker();
    const a = node("a");
    const b = node("b");
    a.log.appendNew(1, EntryType.normal, new TextEncoder().encode("x"));
    b.log.appendNew(1, EntryType.normal, new TextEncoder().encode("y"));
    expect(violation(() => checker.check(a, 1, [b])).kind).toBe("log-matching");
  });

  it("checker - a second entry committed at one index breaks state machine safety", () => {
    const checker = new InvariantChecker();
    const a = node("a");
    const b = node("b");
    a.log.appendNew(1, EntryType.normal, new TextEncoder().encode("x"));
    b.log.appendNew(2, EntryType.normal, new TextEncoder().encode("y"));
    a.commitIndex = 1;
    b.commitIndex = 1;
    checker.check(a, 1, []);
    expect(violation(() => checker.check(b, 1, [])).kind).toBe("state-machine-safety");
  });

  it("checker - a leader without an earlier committed entry breaks leader completeness", () => {
    const checker = new InvariantChecker();
    const a = node("a");
    const b = node("b");
    a.term = 1;
    a.log.appendNew(1, EntryType.normal, new TextEncoder().encode("x"));
    a.commitIndex = 1;
    checker.check(a, 1, []);
    b.term = 2;
    b.role = "leader";
    expect(violation(() => checker.check(b, 1, [])).kind).toBe("leader-completeness");
  });

  it("checker - commit going back within one life breaks monotonicity", () => {
    const checker = new InvariantChecker();
    const a = node("a");
    a.log.appendNew(1, EntryType.normal, new TextEncoder().encode("x"));
    a.commitIndex = 1;
    checker.check(a, 1, []);
    a.commitIndex = 0;
    expect(violation(() => checker.check(a, 1, [])).kind).toBe("monotonic-commit-apply");
    // After a restart (a new incarnation) the commit index may start lower.
    expect(() => checker.check(a, 2, [])).not.toThrow();
  });
});

describe("remu - determinism", () => {
  it("remu - one seed replays exactly: same summary, same checksum chain", () => {
    const options = {
      nodes: 5,
      seed: 4242,
      steps: 8000,
      faults: ["drop", "partition", "crash", "snapshot"] as const,
    };
    const first = runEmulation({ ...options, faults: [...options.faults] });
    const second = runEmulation({ ...options, faults: [...options.faults] });
    expect(first.ok, `SEED=4242 ${first.failure}`).toBe(true);
    expect(second.summary).toEqual(first.summary);
    expect(first.summary.committed).toBeGreaterThan(50);
  });

  it("remu - different seeds take different paths", () => {
    const a = runEmulation({ nodes: 3, seed: 1, steps: 4000, faults: ["drop", "crash"] });
    const b = runEmulation({ nodes: 3, seed: 2, steps: 4000, faults: ["drop", "crash"] });
    expect(a.summary.chkAtCommit).not.toBe(b.summary.chkAtCommit);
  });

  it("remu - a crash loses unsynced writes but never an acknowledged one", () => {
    const cluster = new Cluster({ nodes: 3, seed: 99, diskLatencyMs: [5, 20] });
    expect(
      cluster.runUntil(() => cluster.leaders().length === 1, 5_000),
      "SEED=99 no leader",
    ).toBe(true);
    const leader = cluster.leaders()[0]!;
    const acked: number[] = [];
    for (let k = 0; k < 20; k++) {
      const result = cluster.propose(leader, `k${k}=v${k}`, (applied) => applied && acked.push(k));
      expect(result.ok).toBe(true);
    }
    cluster.runFor(45); // some writes are acknowledged, later ones are not yet durable
    expect(
      acked.length,
      "SEED=99 some writes must be acknowledged before the crash",
    ).toBeGreaterThan(0);
    for (const id of cluster.nodes.keys()) cluster.crash(id);
    for (const id of cluster.nodes.keys()) cluster.restart(id);
    expect(
      cluster.runUntil(() => cluster.leaders().length === 1, 5_000),
      "SEED=99 no leader after restart",
    ).toBe(true);
    const newLeader = cluster.leaders()[0]!;
    const marker = cluster.propose(newLeader, "after=restart");
    expect(marker.ok).toBe(true);
    cluster.runUntil(
      () => cluster.node(newLeader).raft!.status().appliedIndex >= (marker.ok ? marker.index : 0),
      5_000,
    );
    const values = cluster.node(newLeader).stateMachine.values;
    for (const k of acked)
      expect(values.get(`k${k}`), `SEED=99 acked write k${k} lost`).toBe(`v${k}`);
  });
});
