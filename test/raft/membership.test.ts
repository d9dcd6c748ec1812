import { describe, expect, test } from "vitest";
import { decodeConfigEntry } from "../../raft/membership.js";
import type { RaftNode } from "../../raft/node.js";
import { EntryType, type MembershipConfig } from "../../raft/types.js";
import { Harness, sameLogs } from "./harness.js";

const ET = 10;

/** The configurations in a node's log, in order, with their indices. */
function configEntries(node: RaftNode): { index: number; config: MembershipConfig }[] {
  const out: { index: number; config: MembershipConfig }[] = [];
  for (let index = node.log.firstIndex; index <= node.log.lastIndex(); index++) {
    const entry = node.log.entry(index)!;
    if (entry.type === EntryType.config) {
      out.push({ index, config: decodeConfigEntry(entry.data).config });
    }
  }
  return out;
}

const sorted = (ids: readonly string[]) => [...ids].sort();
const norm = (c: MembershipConfig) => ({
  voters: sorted(c.voters),
  outgoing: sorted(c.outgoing),
  learners: sorted(c.learners),
});

function electedCluster(ids = ["a", "b", "c"], settings = {}): Harness {
  const h = new Harness(ids, settings);
  h.elect(ids[0]!);
  h.tickAndStabilize(1);
  return h;
}

/** Tick until some node other than `except` leads; returns it. */
function awaitLeader(h: Harness, ids: readonly string[], except?: string): RaftNode {
  for (let k = 0; k < 10 * ET; k++) {
    const leader = h.leaders().find((n) => n.id !== except && ids.includes(n.id));
    if (leader) return leader;
    h.tickAndStabilize(1, ids);
  }
  throw new Error("no leader elected");
}

describe("membership", () => {
  test("membership - a new member is probed with the entry that added it, not at the next heartbeat", () => {
    const h = electedCluster();
    h.add("d");
    const result = h.changeConfig("a", [{ type: "addLearner", node: "d" }]);
    expect(result).toMatchObject({ ok: true, index: 2 });
    // No tick: the first Ready after the change already carries the append to d.
    const toD = h.pending((m) => m.to === "d");
    expect(toD.map((m) => m.type)).toEqual(["append"]);
    const append = toD[0]!;
    if (append.type !== "append") throw new Error("not an append");
    expect(append.prevLogIndex).toBe(1);
    expect(append.entries.map((e) => e.index)).toEqual([2]);
    h.stabilize();
    expect(h.node("d").status().lastIndex).toBe(2);
  });

  test("membership - a new member counts as active until the next check-quorum", () => {
    // (1,4,5)&&(1,2,3) with 4 and 5 down: the new half has no quorum. The leader's first
    // check after the change must not fail it (etcd initProgress: RecentActive), the second does.
    const h = electedCluster(["a", "b", "c"], { checkQuorum: true });
    h.add("d");
    h.add("e");
    h.isolate("d", "e");
    const result = h.changeConfig("a", [
      { type: "addVoter", node: "d" },
      { type: "addVoter", node: "e" },
      { type: "remove", node: "b" },
      { type: "remove", node: "c" },
    ]);
    expect(result).toMatchObject({ ok: true });
    h.tickAndStabilize(ET, ["a", "b", "c"]);
    expect(h.node("a").status().role).toBe("leader");
    h.tickAndStabilize(ET, ["a", "b", "c"]);
    expect(h.node("a").status().role).toBe("follower");
  });

  test("membership - adding a voter goes through C_old,new and then C_new automatically", () => {
    const h = electedCluster();
    const a = h.node("a");
    const d = h.add("d");
    expect(d.membership.current().voters).toEqual([]);
    const result = h.changeConfig("a", [{ type: "addVoter", node: "d" }]);
    expect(result).toMatchObject({ ok: true, index: 2 });
    // The joint configuration takes effect on the leader as soon as it is appended.
    expect(norm(a.membership.current())).toEqual({
      voters: ["a", "b", "c", "d"],
      outgoing: ["a", "b", "c"],
      learners: [],
    });
    expect([...a.progress.keys()].sort()).toEqual(["b", "c", "d"]);
    h.stabilize();
    h.tickAndStabilize(2);
    expect(configEntries(a).map((e) => [e.index, norm(e.config)])).toEqual([
      [2, { voters: ["a", "b", "c", "d"], outgoing: ["a", "b", "c"], learners: [] }],
      [3, { voters: ["a", "b", "c", "d"], outgoing: [], learners: [] }],
    ]);
    for (const id of ["a", "b", "c", "d"]) {
      const node = h.node(id);
      expect(node.status().commitIndex, id).toBe(3);
      expect(norm(node.membership.current()), id).toEqual({
        voters: ["a", "b", "c", "d"],
        outgoing: [],
        learners: [],
      });
    }
    expect(sameLogs([a, h.node("b"), h.node("c"), d])).toBeNull();
  });

  test("membership - in C_old,new an entry commits only with a majority of each configuration", () => {
    const h = electedCluster();
    const a = h.node("a");
    h.add("d");
    h.add("e");
    h.changeConfig("a", [
      { type: "addVoter", node: "d" },
      { type: "addVoter", node: "e" },
    ]);
    // a, d and e are a majority of C_new but only a third of C_old.
    h.isolate("b", "c");
    h.tickAndStabilize(3, ["a", "d", "e"]);
    expect(a.progress.get("d")!.matchIndex).toBe(2);
    expect(a.progress.get("e")!.matchIndex).toBe(2);
    expect(a.status().commitIndex).toBe(1);
    h.heal();
    h.tickAndStabilize(3);
    expect(a.status().commitIndex).toBe(3);
    expect(norm(a.membership.current()).voters).toEqual(["a", "b", "c", "d", "e"]);
  });

  test("membership - a second change is refused (config-pending) while the first is in flight", () => {
    const h = electedCluster();
    const a = h.node("a");
    h.add("d");
    h.add("e");
    expect(h.changeConfig("a", [{ type: "addVoter", node: "d" }]).ok).toBe(true);
    const pending = { ok: false, reason: "config-pending", leader: "a" };
    expect(h.changeConfig("a", [{ type: "addVoter", node: "e" }])).toEqual(pending);
    // C_old,new committed, C_new appended but not yet committed: still pending.
    h.deliver((m) => m.type === "append");
    h.deliver((m) => m.type === "appendResp");
    expect(a.status().commitIndex).toBe(2);
    expect(a.membership.currentIndex()).toBe(3);
    expect(h.changeConfig("a", [{ type: "addVoter", node: "e" }])).toEqual(pending);
    h.stabilize();
    expect(a.status().commitIndex).toBe(3);
    // Once C_new commits, the next change is accepted, and it is safe too.
    expect(h.changeConfig("a", [{ type: "addVoter", node: "e" }]).ok).toBe(true);
    h.stabilize();
    h.tickAndStabilize(2);
    for (const id of h.ids) {
      expect(norm(h.node(id).membership.current()), id).toEqual({
        voters: ["a", "b", "c", "d", "e"],
        outgoing: [],
        learners: [],
      });
      expect(h.node(id).status().commitIndex, id).toBe(5);
    }
    expect(sameLogs([...h.nodes.values()])).toBeNull();
    // The cluster still works: a new leader emerges without a in the five-node configuration.
    h.isolate("a");
    const next = awaitLeader(h, ["b", "c", "d", "e"], "a");
    expect(h.propose(next.id, "x").ok).toBe(true);
    h.tickAndStabilize(2, ["b", "c", "d", "e"]);
    expect(next.status().commitIndex).toBe(next.log.lastIndex());
  });

  test("membership - config changes wait until the leader has committed an entry of its term", () => {
    const h = new Harness(["a", "b", "c"]);
    const a = h.node("a");
    a.campaign("pre");
    h.processAll();
    for (let k = 0; k < 10 && a.status().role !== "leader"; k++) {
      h.deliver((m) => m.type === "vote" || m.type === "voteResp");
    }
    expect(a.status().role).toBe("leader");
    expect(a.status().commitIndex).toBe(0);
    expect(a.proposeConfigChange([{ type: "addLearner", node: "d" }])).toMatchObject({
      ok: false,
      reason: "config-pending",
    });
    h.stabilize();
    expect(a.proposeConfigChange([{ type: "addLearner", node: "d" }]).ok).toBe(true);
  });

  test("membership - a learner catches up before promotion (learner-behind until then)", () => {
    const h = electedCluster(["a", "b", "c"], { learnerCatchUpEntries: 2 });
    const a = h.node("a");
    const d = h.add("d");
    h.isolate("d");
    // A learner joins without a joint phase: voters are unchanged.
    expect(h.changeConfig("a", [{ type: "addLearner", node: "d" }]).ok).toBe(true);
    expect(norm(a.membership.current())).toEqual({
      voters: ["a", "b", "c"],
      outgoing: [],
      learners: ["d"],
    });
    for (let k = 0; k < 5; k++) h.propose("a", `k${k}`);
    h.tickAndStabilize(2, ["a", "b", "c"]);
    expect(a.status().commitIndex).toBe(7); // the learner does not count
    expect(a.proposeConfigChange([{ type: "addVoter", node: "d" }])).toEqual({
      ok: false,
      reason: "learner-behind",
      leader: "a",
    });
    h.heal();
    h.tickAndStabilize(3);
    expect(d.log.lastIndex()).toBe(7);
    expect(d.status().role).toBe("follower");
    expect(h.changeConfig("a", [{ type: "addVoter", node: "d" }]).ok).toBe(true);
    expect(norm(a.membership.current())).toEqual({
      voters: ["a", "b", "c", "d"],
      outgoing: ["a", "b", "c"],
      learners: [],
    });
    h.stabilize();
    h.tickAndStabilize(2);
    expect(norm(d.membership.current())).toEqual({
      voters: ["a", "b", "c", "d"],
      outgoing: [],
      learners: [],
    });
  });

  test("membership - a learner never campaigns and is never asked to vote", () => {
    const h = electedCluster();
    const d = h.add("d");
    h.changeConfig("a", [{ type: "addLearner", node: "d" }]);
    h.tickAndStabilize(2);
    expect(d.membership.current().learners).toEqual(["d"]);
    h.isolate("a");
    h.tickAndStabilize(10 * ET, ["b", "c", "d"]);
    expect(h.sentWhere((m) => m.type === "vote" && (m.from === "d" || m.to === "d"))).toEqual([]);
    expect(d.status().term).toBeLessThanOrEqual(h.node("b").status().term);
    expect(d.status().role).toBe("follower");
  });

  test("membership - the removed leader leads until C_new commits, then steps down and never campaigns", () => {
    const h = electedCluster();
    const a = h.node("a");
    expect(h.changeConfig("a", [{ type: "remove", node: "a" }]).ok).toBe(true);
    expect(norm(a.membership.current())).toEqual({
      voters: ["b", "c"],
      outgoing: ["a", "b", "c"],
      learners: [],
    });
    // Round 1: C_old,new commits; a appends C_new and still leads.
    h.deliver((m) => m.type === "append");
    h.deliver((m) => m.type === "appendResp");
    expect(a.status().commitIndex).toBe(2);
    expect(a.status().role).toBe("leader");
    expect(norm(a.membership.current())).toEqual({
      voters: ["b", "c"],
      outgoing: [],
      learners: [],
    });
    expect(a.membership.currentIndex()).toBe(3);
    // a can still take proposals while it manages a configuration without itself.
    expect(h.propose("a", "while-leaving").ok).toBe(true);
    // Round 2: C_new commits (b and c alone decide now); a steps down.
    h.stabilize();
    expect(a.status().role).toBe("follower");
    expect(a.status().commitIndex).toBeGreaterThanOrEqual(3);
    for (const id of ["b", "c"])
      expect(h.node(id).status().commitIndex, id).toBeGreaterThanOrEqual(3);
    // b or c takes over; a never campaigns again.
    const votesBefore = h.sentWhere((m) => m.type === "vote" && m.from === "a").length;
    const next = awaitLeader(h, ["a", "b", "c"], "a");
    h.tickAndStabilize(10 * ET);
    expect(h.sentWhere((m) => m.type === "vote" && m.from === "a").length).toBe(votesBefore);
    expect(a.status().role).toBe("follower");
    expect(next.status().role).toBe("leader");
    expect(
      h.applied.get(next.id)!.some((e) => new TextDecoder().decode(e.data) === "while-leaving"),
    ).toBe(true);
  });

  test("membership - a removed follower never campaigns", () => {
    const h = electedCluster();
    const c = h.node("c");
    expect(h.changeConfig("a", [{ type: "remove", node: "c" }]).ok).toBe(true);
    h.stabilize();
    h.tickAndStabilize(3);
    expect(norm(h.node("a").membership.current())).toEqual({
      voters: ["a", "b"],
      outgoing: [],
      learners: [],
    });
    const votesBefore = h.sentWhere((m) => m.type === "vote" && m.from === "c").length;
    h.tickAndStabilize(10 * ET);
    expect(h.sentWhere((m) => m.type === "vote" && m.from === "c").length).toBe(votesBefore);
    expect(c.status().role).toBe("follower");
    // And the remaining pair is undisturbed.
    expect(h.node("a").status().role).toBe("leader");
    expect(h.node("a").status().term).toBe(1);
  });

  test("membership - a node joining after compaction gets the configuration with the snapshot", () => {
    const h = electedCluster();
    const a = h.node("a");
    for (let k = 0; k < 5; k++) h.propose("a", `k${k}`);
    h.tickAndStabilize(2);
    h.compact("a", a.status().appliedIndex, 50);
    const d = h.add("d");
    expect(h.changeConfig("a", [{ type: "addVoter", node: "d" }]).ok).toBe(true);
    h.tickAndStabilize(5);
    expect(h.installed.get("d")!.length).toBe(1);
    expect(norm(d.membership.current())).toEqual({
      voters: ["a", "b", "c", "d"],
      outgoing: [],
      learners: [],
    });
    expect(sameLogs([a, d], d.log.firstIndex)).toBeNull();
  });

  test("membership - removing every voter or adding a voter as learner is refused (config-invalid)", () => {
    const h = electedCluster();
    const invalid = { ok: false, reason: "config-invalid", leader: "a" };
    expect(
      h.changeConfig("a", [
        { type: "remove", node: "a" },
        { type: "remove", node: "b" },
        { type: "remove", node: "c" },
      ]),
    ).toEqual(invalid);
    expect(h.changeConfig("a", [{ type: "addLearner", node: "b" }])).toEqual(invalid);
    expect(h.node("a").log.lastIndex()).toBe(1);
  });

  test("membership - demoting a voter to learner in one change does not crash the leader", () => {
    const h = electedCluster();
    const a = h.node("a");
    let result: unknown;
    expect(() => {
      result = a.proposeConfigChange([
        { type: "remove", node: "c" },
        { type: "addLearner", node: "c" },
      ]);
    }).not.toThrow();
    // Either refused, or accepted as a valid configuration that the cluster then applies.
    if ((result as { ok: boolean }).ok) {
      h.stabilize();
      h.tickAndStabilize(3);
      expect(norm(a.membership.current())).toEqual({
        voters: ["a", "b"],
        outgoing: [],
        learners: ["c"],
      });
    } else {
      expect(result).toMatchObject({ ok: false, reason: "config-invalid" });
      expect(a.log.lastIndex()).toBe(1);
    }
  });
});
