import { describe, expect, test } from "vitest";
import type { AppendEntries, AppendResponse, Heartbeat, Message } from "../../raft/types.js";
import { EntryType } from "../../raft/types.js";
import {
  appendResp,
  bytes,
  config,
  Harness,
  is,
  restoredLog,
  sameLogs,
  termsOf,
  text,
} from "./harness.js";

const ET = 10;

/** A 3-node cluster with a elected and everyone's commit up to date. */
function electedCluster(settings = {}, seed = 1): Harness {
  const h = new Harness(["a", "b", "c"], settings, seed);
  h.elect("a");
  h.tickAndStabilize(1);
  return h;
}

const appendsTo = (messages: readonly Message[], to: string): AppendEntries[] =>
  messages.filter((m): m is AppendEntries => m.type === "append" && m.to === to);

describe("replication", () => {
  test("replication - a new leader appends a no-op entry of its term", () => {
    const h = electedCluster();
    const a = h.node("a");
    const noop1 = a.log.entry(1)!;
    expect(noop1).toMatchObject({ index: 1, term: 1, type: EntryType.normal });
    expect(noop1.data.length).toBe(0);
    h.propose("a", "x=1");
    h.stabilize();
    // Leadership moves to b in term 2: its first act is a no-op at the next index.
    h.isolate("a");
    h.tickAndStabilize(3 * ET, ["b", "c"]);
    const b = h.leaders().find((n) => n.id !== "a")!;
    expect(b).toBeDefined();
    const noop = b.log.entry(3)!;
    expect(noop.term).toBe(b.status().term);
    expect(noop.data.length).toBe(0);
    expect(noop.type).toBe(EntryType.normal);
    expect(b.log.lastIndex()).toBe(3);
    expect(b.status().commitIndex).toBe(3); // committing the no-op commits x=1 of the older term too
  });

  test("replication - a proposal is committed and applied in order on every node", () => {
    const h = electedCluster();
    for (let k = 0; k < 5; k++) expect(h.propose("a", `k${k}`).ok).toBe(true);
    h.stabilize();
    h.tickAndStabilize(1);
    for (const id of h.ids) {
      const node = h.node(id);
      expect(node.status().commitIndex).toBe(6);
      expect(h.applied.get(id)!.map((e) => text(e.data))).toEqual([
        "",
        "k0",
        "k1",
        "k2",
        "k3",
        "k4",
      ]);
    }
    expect(sameLogs([...h.nodes.values()])).toBeNull();
  });

  test("replication - a follower refuses proposals and names its leader", () => {
    const h = electedCluster();
    expect(h.propose("b", "x")).toEqual({ ok: false, reason: "not-leader", leader: "a" });
  });

  test("replication - Figure 7: followers (a)-(f) converge to the leader's log with fast backtracking", () => {
    // The leader of term 8 and six followers with the logs of the paper's Figure 7.
    const leaderLog = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    const followers: Record<string, number[]> = {
      fa: [1, 1, 1, 4, 4, 5, 5, 6, 6],
      fb: [1, 1, 1, 4],
      fc: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
      fd: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
      fe: [1, 1, 1, 4, 4, 4, 4],
      ff: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
    };
    // Rejections one-entry-at-a-time backtracking would need: prevLogIndex starts at 10 and
    // steps down to the last index where the follower agrees with the leader.
    const naive: Record<string, number> = { fa: 1, fb: 6, fc: 0, fd: 0, fe: 5, ff: 7 };
    const expected: Record<string, number> = { fa: 1, fb: 1, fc: 0, fd: 0, fe: 1, ff: 1 };
    const voters = config(["L", ...Object.keys(followers)]);
    // checkQuorum off: restored nodes would otherwise ignore votes for one election timeout.
    const h = new Harness([], { checkQuorum: false });
    h.add("L", { initialConfig: voters, restored: restoredLog(leaderLog, 7) });
    for (const [id, terms] of Object.entries(followers)) {
      h.add(id, { initialConfig: voters, restored: restoredLog(terms) });
    }
    const leader = h.elect("L");
    expect(leader.status().term).toBe(8);
    // (c) and (d) hold more up-to-date logs and refused their votes.
    const refused = h
      .sentWhere((m) => m.type === "voteResp" && !m.pre && !m.granted)
      .map((m) => m.from);
    expect(refused.sort()).toEqual(["fc", "fd"]);
    h.tickAndStabilize(2);

    const leaderTerms = [...leaderLog, 8];
    expect(termsOf(leader)).toEqual(leaderTerms);
    for (const id of Object.keys(followers)) {
      const node = h.node(id);
      expect(termsOf(node), id).toEqual(leaderTerms);
      expect(sameLogs([leader, node]), id).toBeNull();
      expect(node.status().commitIndex, id).toBe(11);
      const rejections = h.sentWhere(
        (m) => m.type === "appendResp" && m.from === id && (m as AppendResponse).reject,
      ).length;
      expect(rejections, id).toBe(expected[id]);
      expect(rejections, id).toBeLessThanOrEqual(naive[id]!);
    }
    const total = Object.keys(followers).reduce((sum, id) => sum + expected[id]!, 0);
    const naiveTotal = Object.values(naive).reduce((sum, n) => sum + n, 0);
    expect(total).toBeLessThan(naiveTotal);
  });

  test("replication - a rejection carries a hint: the follower's last entry at or below the leader's term", () => {
    const h = new Harness([], { checkQuorum: false });
    const voters = config(["L", "f"]);
    h.add("L", { initialConfig: voters, restored: restoredLog([1, 1, 1, 4, 4, 5, 5, 6, 6, 6], 7) });
    h.add("f", { initialConfig: voters, restored: restoredLog([1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3]) });
    h.node("L").campaign("real");
    h.stabilize();
    const [rejection] = h.sentWhere(
      (m) => m.type === "appendResp" && (m as AppendResponse).reject,
    ) as AppendResponse[];
    expect(rejection).toMatchObject({ index: 10, hintIndex: 10, hintTerm: 3 });
    // The leader then skipped straight to index 3, the last it holds with a term <= 3.
    const probes = appendsTo(h.sent, "f");
    expect(probes.map((m) => m.prevLogIndex)).toEqual([10, 3]);
  });

  test("replication - Figure 8: the leader does not commit an earlier term's entry by counting replicas", () => {
    const voters = config(["s1", "s2", "s3", "s4", "s5"]);
    // checkQuorum off: the restored nodes vote at once (no lease since restart).
    const h = new Harness([], { checkQuorum: false });
    // (c): s1 led term 2 and wrote index 2 to s2 and s3; s5 wrote index 2 in term 3.
    h.add("s1", { initialConfig: voters, restored: restoredLog([1, 2], 3) });
    h.add("s2", { initialConfig: voters, restored: restoredLog([1, 2], 3) });
    h.add("s3", { initialConfig: voters, restored: restoredLog([1, 2], 3) });
    h.add("s4", { initialConfig: voters, restored: restoredLog([1], 3) });
    h.add("s5", { initialConfig: voters, restored: restoredLog([1, 3], 3) });
    const s1 = h.node("s1");
    s1.campaign("pre");
    h.processAll();
    // Deliver the election only: none of s1's appends of term 4 go out.
    for (let k = 0; k < 10; k++) h.deliver((m) => m.type === "vote" || m.type === "voteResp");
    expect(s1.status().role).toBe("leader");
    expect(s1.status().term).toBe(4);
    h.take();
    // s2 and s3 acknowledge index 2: it is on a majority (s1, s2, s3)...
    s1.step(appendResp("s2", "s1", 4, 2));
    s1.step(appendResp("s3", "s1", 4, 2));
    h.processAll();
    h.take();
    expect(s1.progress.get("s2")!.matchIndex).toBe(2);
    expect(s1.progress.get("s3")!.matchIndex).toBe(2);
    // ...yet it is of term 2, not 4: not committed.
    expect(s1.status().commitIndex).toBe(0);

    // (d): s1 crashes; s5 is elected (its last term 3 beats their 2) and overwrites index 2.
    h.isolate("s1");
    const s5 = h.node("s5");
    for (let k = 0; k < 3 && s5.status().role !== "leader"; k++) {
      s5.campaign("pre");
      h.stabilize();
    }
    expect(s5.status().role).toBe("leader");
    h.tickAndStabilize(1, ["s2", "s3", "s4", "s5"]);
    for (const id of ["s2", "s3", "s4", "s5"]) {
      expect(termsOf(h.node(id)), id).toEqual([1, 3, s5.status().term]);
    }
    // Had s1 committed (2, term 2), a committed entry would now be lost; it never was.
    for (const id of h.ids) {
      for (const entry of h.applied.get(id)!) {
        expect(entry.index === 2 && entry.term === 2, id).toBe(false);
      }
    }
    h.heal();
    h.tickAndStabilize(2);
    expect(termsOf(s1)).toEqual([1, 3, s5.status().term]);
  });

  test("replication - Figure 8 (e): an earlier term's entry commits with the first entry of the leader's term", () => {
    const voters = config(["s1", "s2", "s3", "s4", "s5"]);
    const h = new Harness([], { checkQuorum: false });
    h.add("s1", { initialConfig: voters, restored: restoredLog([1, 2], 3) });
    h.add("s2", { initialConfig: voters, restored: restoredLog([1, 2], 3) });
    h.add("s3", { initialConfig: voters, restored: restoredLog([1], 3) });
    h.add("s4", { initialConfig: voters, restored: restoredLog([1], 3) });
    h.add("s5", { initialConfig: voters, restored: restoredLog([1, 3], 3) });
    h.isolate("s4", "s5"); // s1's term-4 entries reach s2 and s3 only
    const s1 = h.elect("s1");
    h.tickAndStabilize(1, ["s1", "s2", "s3"]);
    expect(s1.status().term).toBe(4);
    expect(s1.status().commitIndex).toBe(3);
    expect(h.applied.get("s1")!.map((e) => [e.index, e.term])).toEqual([
      [1, 1],
      [2, 2],
      [3, 4],
    ]);
    // s5 can no longer win: a majority holds an entry of term 4.
    h.heal();
    h.isolate("s1");
    const s5 = h.node("s5");
    for (let k = 0; k < 5 && s5.status().role !== "leader"; k++) {
      s5.campaign("pre");
      h.stabilize();
    }
    expect(s5.status().role).not.toBe("leader");
    expect(termsOf(h.node("s2"))).toEqual([1, 2, 4]);
  });

  test("replication - the leader's own ack for commit waits for its own persistence", () => {
    const h = electedCluster();
    const a = h.node("a");
    h.isolate("c");
    h.holdPersist.add("a");
    h.propose("a", "x");
    expect(a.log.lastIndex()).toBe(2);
    // The append went out in parallel with the leader's write; b acks it.
    h.stabilize();
    expect(a.progress.get("b")!.matchIndex).toBe(2);
    expect(a.status().commitIndex).toBe(1); // b alone is not a majority without a's own write
    h.holdPersist.delete("a");
    h.persist("a");
    expect(a.status().commitIndex).toBe(2);
    expect(h.applied.get("a")!.at(-1)!.index).toBe(2);
  });

  test("replication - the leader commits on followers' acks but applies only what it persisted", () => {
    const h = electedCluster();
    const a = h.node("a");
    h.holdPersist.add("a");
    h.propose("a", "x");
    h.stabilize();
    expect(a.status().commitIndex).toBe(2); // b and c are a majority
    const handedOut = h.readies.get("a")!.flatMap((r) => r.committed.map((e) => e.index));
    expect(handedOut).not.toContain(2);
    h.holdPersist.delete("a");
    h.persist("a");
    expect(h.applied.get("a")!.map((e) => e.index)).toEqual([1, 2]);
  });

  test("replication - a follower acks an append only after persisting it", () => {
    const h = electedCluster();
    h.holdPersist.add("b");
    h.propose("a", "x");
    h.deliver(is("append", "a", "b"));
    expect(h.pending(is("appendResp", "b"))).toEqual([]);
    h.persist("b");
    expect(h.pending(is("appendResp", "b")).length).toBe(1);
  });

  test("replication - pipelining: at most maxInflight unacknowledged appends in replicate state", () => {
    const h = electedCluster({ maxInflight: 3, maxAppendBytes: 10 });
    const a = h.node("a");
    expect(a.progress.get("b")!.state).toBe("replicate");
    h.take();
    for (let k = 0; k < 10; k++) expect(h.propose("a", `entry-${k}`.padEnd(10)).ok).toBe(true);
    let window = appendsTo(h.queue, "b");
    expect(window.map((m) => m.entries.map((e) => e.index))).toEqual([[2], [3], [4]]);
    expect(a.progress.get("b")!.inflights.full()).toBe(true);
    // Each ack slides the window by one.
    for (let next = 5; next <= 11; next++) {
      const [oldest] = window;
      h.take((m) => m === oldest);
      h.stepMessage(oldest!);
      h.deliver(is("appendResp", "b", "a"));
      window = appendsTo(h.queue, "b");
      expect(window.length).toBeLessThanOrEqual(3);
      expect(window.at(-1)!.entries.map((e) => e.index)).toEqual([next]);
    }
    h.stabilize();
    h.tickAndStabilize(1);
    for (const id of h.ids) expect(h.node(id).status().commitIndex).toBe(11);
  });

  test("replication - appends are batched up to maxAppendBytes, at least one entry each", () => {
    const h = electedCluster({ maxAppendBytes: 25 });
    const a = h.node("a");
    h.take();
    for (let k = 0; k < 6; k++) a.propose(bytes("x".repeat(10)));
    a.propose(bytes("y".repeat(40))); // larger than the limit: goes alone
    a.propose(bytes("z".repeat(10)));
    h.processAll();
    const batches = appendsTo(h.queue, "b").map((m) => m.entries.map((e) => e.data.length));
    expect(batches).toEqual([[10, 10], [10, 10], [10, 10], [40], [10]]);
    h.stabilize();
    expect(a.status().commitIndex).toBe(9);
  });

  test("replication - a follower in probe state gets one append at a time", () => {
    const h = new Harness(["a", "b", "c"]);
    h.isolate("c");
    const a = h.elect("a");
    expect(a.progress.get("c")!.state).toBe("probe");
    for (let k = 0; k < 5; k++) h.propose("a", `p${k}`);
    h.stabilize();
    // One append went to c (lost), and no other until c answers.
    expect(appendsTo(h.sent, "c").length).toBe(1);
    h.heal();
    h.tick("a");
    h.deliver(is("heartbeat", "a", "c"));
    h.deliver(is("heartbeatResp", "c", "a"));
    expect(appendsTo(h.queue, "c").length).toBe(1);
    h.stabilize();
    expect(a.progress.get("c")!.state).toBe("replicate");
    expect(a.progress.get("c")!.matchIndex).toBe(6);
  });

  test("replication - a probe that finds a conflict keeps one append in flight per round trip", () => {
    const voters = config(["L", "f", "g"]);
    const h = new Harness([], { checkQuorum: false });
    h.add("L", { initialConfig: voters, restored: restoredLog([1, 1, 2, 2, 2, 2], 2) });
    h.add("g", { initialConfig: voters, restored: restoredLog([1, 1, 2, 2, 2, 2], 2) });
    h.add("f", { initialConfig: voters, restored: restoredLog([1, 1, 1, 1, 1, 1, 1, 1], 1) });
    const L = h.node("L");
    L.campaign("real");
    h.processAll();
    for (let round = 0; round < 20 && h.queue.length > 0; round++) {
      expect(appendsTo(h.queue, "f").length).toBeLessThanOrEqual(1);
      h.deliver();
    }
    expect(termsOf(h.node("f"))).toEqual(termsOf(L));
  });

  test("replication - a lost append is recovered through heartbeats", () => {
    for (const seed of [1, 2, 3]) {
      const h = electedCluster({}, seed);
      const a = h.node("a");
      let dropped = 0;
      h.dropIf = (m) => m.type === "append" && m.to === "b" && dropped++ < 1;
      h.propose("a", "lost");
      h.stabilize();
      expect(h.node("b").log.lastIndex(), `seed ${seed}`).toBe(1);
      h.tickAndStabilize(5);
      expect(sameLogs([a, h.node("b")]), `seed ${seed}`).toBeNull();
      expect(h.node("b").status().commitIndex, `seed ${seed}`).toBe(2);
    }
  });

  test("replication - a heartbeat's commit never exceeds what the follower holds", () => {
    const h = electedCluster();
    h.isolate("c");
    for (let k = 0; k < 3; k++) h.propose("a", `k${k}`);
    h.tickAndStabilize(1);
    h.heal();
    h.tick("a");
    const [hb] = h.pending(is("heartbeat", "a", "c")) as Heartbeat[];
    expect(hb!.leaderCommit).toBe(1); // c holds only the no-op
    h.deliver(is("heartbeat", "a", "c"));
    expect(h.node("c").status().commitIndex).toBeLessThanOrEqual(h.node("c").log.lastIndex());
  });

  test("replication - a stale leader's uncommitted entries are overwritten by the new leader's log", () => {
    const h = electedCluster();
    const a = h.node("a");
    h.isolate("a");
    for (let k = 0; k < 3; k++) h.propose("a", `stale${k}`);
    h.tickAndStabilize(4 * ET, ["b", "c"]);
    const b = h.leaders().find((n) => n.id !== "a")!;
    h.propose(b.id, "fresh");
    h.stabilize();
    h.heal();
    h.tickAndStabilize(3);
    expect(sameLogs([a, h.node("b"), h.node("c")])).toBeNull();
    expect(a.log.lastIndex()).toBe(3);
    expect(h.applied.get("a")!.map((e) => text(e.data))).not.toContain("stale0");
  });

  test("replication - proposals are refused with too-large while maxUncommittedBytes are pending", () => {
    const h = electedCluster({ maxUncommittedBytes: 25 });
    h.isolate("b", "c");
    expect(h.propose("a", "x".repeat(10)).ok).toBe(true);
    expect(h.propose("a", "x".repeat(10)).ok).toBe(true);
    expect(h.propose("a", "x".repeat(10))).toEqual({
      ok: false,
      reason: "too-large",
      leader: "a",
    });
    h.heal();
    h.tickAndStabilize(3);
    expect(h.node("a").status().commitIndex).toBe(3);
    expect(h.propose("a", "x".repeat(10)).ok).toBe(true);
  });
});
