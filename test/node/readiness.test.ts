import { describe, expect, it } from "vitest";
import type { RaftStatus } from "../../raft/node.js";
import { readiness, readyApplyLag } from "../../stages/raft-step/status.js";

/** A follower of n1 in a three-voter cluster, caught up: ready. */
function status(overrides: Partial<RaftStatus> = {}): RaftStatus {
  return {
    id: "n2",
    group: 1,
    role: "follower",
    term: 3,
    leader: "n1",
    vote: "n1",
    commitIndex: 100,
    appliedIndex: 100,
    lastIndex: 100,
    firstIndex: 1,
    config: { voters: ["n1", "n2", "n3"], outgoing: [], learners: [] },
    leadTransferee: null,
    followersLostEntries: 0,
    lastLostEntries: null,
    catchUpIndex: 0,
    elections: { timeout: 0, leaderUnreachable: 0, transfer: 0 },
    lastElectionReason: null,
    ...overrides,
  };
}

describe("readiness - CONTRACT §7's /readyz rule", () => {
  it("readiness - a caught-up member with a known leader is ready", () => {
    expect(readiness(status(), false)).toEqual({ ready: true, reason: "" });
    expect(readiness(status({ role: "leader", leader: "n2" }), false).ready).toBe(true);
    // A learner is in the configuration: it serves (reads are forwarded like a follower's).
    const learner = { voters: ["n1", "n3"], outgoing: [], learners: ["n2"] };
    expect(readiness(status({ config: learner }), false).ready).toBe(true);
    // Leaving a joint configuration: the outgoing voters are still members.
    const joint = { voters: ["n1", "n3"], outgoing: ["n1", "n2", "n3"], learners: [] };
    expect(readiness(status({ config: joint }), false).ready).toBe(true);
    // Applied within the bound of commit: briefly behind under load is still ready.
    const behind = status({ commitIndex: 100 + readyApplyLag, appliedIndex: 100 });
    expect(readiness(behind, false).ready).toBe(true);
  });

  it("readiness - no known leader: not ready", () => {
    for (const role of ["follower", "precandidate", "candidate"] as const) {
      const answer = readiness(status({ role, leader: null }), false);
      expect(answer, role).toEqual({ ready: false, reason: "no known leader" });
    }
  });

  it("readiness - removed, or not in the configuration: not ready", () => {
    expect(readiness(status(), true)).toEqual({
      ready: false,
      reason: "this member has been removed from the cluster",
    });
    const without = { voters: ["n1", "n3"], outgoing: [], learners: [] };
    const answer = readiness(status({ config: without }), false);
    expect(answer.ready).toBe(false);
    expect(answer.reason).toMatch(/not a member of the configuration/);
  });

  it("readiness - storage that lost synced writes (catchUpIndex > 0): not ready", () => {
    const answer = readiness(status({ catchUpIndex: 120 }), false);
    expect(answer.ready).toBe(false);
    expect(answer.reason).toMatch(/lost synced writes: catching up to index 120/);
  });

  it("readiness - applied further than the bound behind commit: not ready", () => {
    const answer = readiness(
      status({
        commitIndex: 101 + readyApplyLag,
        appliedIndex: 100,
        lastIndex: 101 + readyApplyLag,
      }),
      false,
    );
    expect(answer.ready).toBe(false);
    expect(answer.reason).toMatch(/applied index 100 is \d+ entries behind the commit index/);
  });

  it("readiness - the first rule failed is the reason", () => {
    const everything = status({ leader: null, catchUpIndex: 5, appliedIndex: 0 });
    expect(readiness(everything, false).reason).toMatch(/lost synced writes/);
    expect(readiness(everything, true).reason).toMatch(/removed/);
  });
});
