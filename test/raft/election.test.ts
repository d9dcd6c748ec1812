import { describe, expect, test } from "vitest";
import { raftConfig } from "../../raft/config.js";
import { RaftNode } from "../../raft/node.js";
import { SeededRandom } from "../../raft/rand.js";
import type { Message, VoteResponse } from "../../raft/types.js";
import { config, Harness, heartbeat, is, restoredLog, voteRequest } from "./harness.js";

const ET = 10;

const votesTo = (h: Harness, to: string): VoteResponse[] =>
  h.pending(is("voteResp", undefined, to)) as VoteResponse[];

describe("election", () => {
  test("election - a brand-new cluster elects the campaigner and every node follows it", () => {
    const h = new Harness(["a", "b", "c"]);
    const a = h.elect("a");
    h.tickAndStabilize(1);
    expect(a.status().term).toBe(1);
    for (const id of ["b", "c"]) {
      const node = h.node(id);
      expect(node.status().role).toBe("follower");
      expect(node.status().term).toBe(1);
      expect(node.status().leader).toBe("a");
      expect(node.status().vote).toBe("a");
    }
    expect(h.leaders()).toEqual([a]);
  });

  test("election - a node that sees a higher term adopts it and forgets its vote", () => {
    const h = new Harness(["a", "b", "c"]);
    h.elect("a");
    const b = h.node("b");
    expect(b.status().vote).toBe("a");
    b.step(heartbeat("c", "b", 5));
    expect(b.status().term).toBe(5);
    expect(b.status().vote).toBeNull();
    expect(b.status().leader).toBe("c");
    expect(b.status().role).toBe("follower");
  });

  test("election - a leader that sees a higher term in a response steps down", () => {
    const h = new Harness(["a", "b", "c"]);
    const a = h.elect("a");
    a.step({
      type: "heartbeatResp",
      group: 1,
      from: "b",
      to: "a",
      term: 3,
      readSeq: 0,
      sentTick: 0,
    });
    expect(a.status().role).toBe("follower");
    expect(a.status().term).toBe(3);
    expect(a.status().leader).toBeNull();
  });

  test("election - stale-term messages are rejected and a stale leader is told the newer term", () => {
    const h = new Harness(["a", "b", "c"]);
    const a = h.elect("a");
    h.isolate("a");
    // b and c wait out the lease of a, then elect one of them in term 2.
    for (let k = 0; k < 5 * ET && h.leaders().length < 2; k++) h.tickAndStabilize(1, ["b", "c"]);
    const [newLeader] = h.leaders().filter((n) => n.id !== "a");
    expect(newLeader).toBeDefined();
    const term = newLeader!.status().term;
    expect(term).toBeGreaterThan(1);
    expect(a.status().role).toBe("leader");
    expect(a.status().term).toBe(1);

    // A stale vote request is not granted and changes nothing.
    const c = h.node("c");
    const before = { term: c.status().term, vote: c.status().vote, leader: c.status().leader };
    c.step(voteRequest("a", "c", 1, { lastLogIndex: 100, lastLogTerm: 1 }));
    h.processAll();
    expect(h.take(is("voteResp", "c", "a")).filter((m) => (m as VoteResponse).granted)).toEqual([]);
    expect({ term: c.status().term, vote: c.status().vote, leader: c.status().leader }).toEqual(
      before,
    );

    // The old leader's heartbeat is rejected with the newer term, and it steps down.
    h.heal();
    h.tick("a");
    const heartbeats = h.pending(is("heartbeat", "a"));
    expect(heartbeats.length).toBe(2);
    h.deliver(is("heartbeat", "a"));
    const replies = h.pending(is("appendResp", undefined, "a"));
    expect(replies.length).toBe(2);
    for (const reply of replies) {
      expect(reply.term).toBe(term);
      expect((reply as { reject: boolean }).reject).toBe(true);
    }
    h.deliver(is("appendResp", undefined, "a"));
    expect(a.status().role).toBe("follower");
    expect(a.status().term).toBe(term);
    // The new leader was not disturbed by the stale messages.
    expect(newLeader!.status().role).toBe("leader");
    expect(newLeader!.status().term).toBe(term);
  });

  test("election - a voter grants one vote per term", () => {
    const h = new Harness(["a", "b", "c"]);
    const b = h.node("b");
    b.step(voteRequest("a", "b", 1));
    h.processAll();
    b.step(voteRequest("c", "b", 1));
    h.processAll();
    // Asking again is idempotent: the same candidate gets the same answer.
    b.step(voteRequest("a", "b", 1));
    h.processAll();
    const answers = h.take(is("voteResp", "b")).map((m) => [m.to, (m as VoteResponse).granted]);
    expect(answers).toEqual([
      ["a", true],
      ["c", false],
      ["a", true],
    ]);
    expect(b.status().vote).toBe("a");
    expect(b.status().term).toBe(1);
  });

  test("election - a vote is answered only after it is persisted", () => {
    const h = new Harness(["a", "b", "c"]);
    h.holdPersist.add("b");
    const b = h.node("b");
    b.step(voteRequest("a", "b", 1));
    h.processAll();
    expect(h.pending(is("voteResp", "b"))).toEqual([]);
    expect(h.disks.get("b")!.hardState.vote).toBeNull();
    h.persist("b");
    expect(h.disks.get("b")!.hardState).toEqual({ term: 1, vote: "a", commit: 0 });
    expect(votesTo(h, "a").map((m) => m.granted)).toEqual([true]);
  });

  test("election - the vote survives a restart: no second vote in the same term", () => {
    const h = new Harness(["a", "b", "c"]);
    h.node("b").step(voteRequest("a", "b", 1));
    h.processAll();
    h.take();
    const b = h.restart("b");
    expect(b.status().term).toBe(1);
    expect(b.status().vote).toBe("a");
    b.step(voteRequest("c", "b", 1));
    h.processAll();
    expect(votesTo(h, "c").map((m) => m.granted)).toEqual([false]);
    expect(b.status().vote).toBe("a");
  });

  test("election - §5.4.1: a vote goes only to a candidate whose log is at least as up-to-date", () => {
    // The voter's log ends at (index 3, term 2).
    const cases: { lastLogIndex: number; lastLogTerm: number; granted: boolean }[] = [
      { lastLogIndex: 3, lastLogTerm: 2, granted: true }, // equal
      { lastLogIndex: 4, lastLogTerm: 2, granted: true }, // same term, longer
      { lastLogIndex: 1, lastLogTerm: 3, granted: true }, // higher last term, shorter
      { lastLogIndex: 2, lastLogTerm: 2, granted: false }, // same term, shorter
      { lastLogIndex: 10, lastLogTerm: 1, granted: false }, // lower last term, longer
      { lastLogIndex: 0, lastLogTerm: 0, granted: false }, // empty
    ];
    for (const { lastLogIndex, lastLogTerm, granted } of cases) {
      for (const pre of [false, true]) {
        const h = new Harness(["a", "b"], { checkQuorum: false });
        h.add("v", { initialConfig: config(["a", "b", "v"]), restored: restoredLog([1, 1, 2]) });
        h.node("v").step(voteRequest("a", "v", 3, { lastLogIndex, lastLogTerm, pre }));
        h.processAll();
        const answers = votesTo(h, "a");
        expect(
          answers.map((m) => m.granted),
          JSON.stringify({ lastLogIndex, pre }),
        ).toEqual([granted]);
        expect(h.node("v").status().term).toBe(pre ? 2 : 3); // a pre-vote changes no one's term
        expect(h.node("v").status().vote).toBe(granted && !pre ? "a" : null);
      }
    }
  });

  test("election - a voter that heard from a live leader ignores vote requests unless transfer=true", () => {
    const h = new Harness(["a", "b", "c"]);
    h.elect("a");
    const b = h.node("b");
    for (const pre of [false, true]) {
      b.step(voteRequest("c", "b", 2, { lastLogIndex: 9, lastLogTerm: 1, pre }));
      h.processAll();
      expect(h.pending(is("voteResp", "b"))).toEqual([]);
      expect(b.status().term).toBe(1);
      expect(b.status().leader).toBe("a");
    }
    // The leader itself, its quorum recently confirmed, ignores it too.
    const a = h.node("a");
    a.step(voteRequest("c", "a", 2, { lastLogIndex: 9, lastLogTerm: 1 }));
    h.processAll();
    expect(a.status().role).toBe("leader");
    expect(a.status().term).toBe(1);
    // A transfer candidate is heard.
    b.step(voteRequest("c", "b", 2, { lastLogIndex: 9, lastLogTerm: 1, transfer: true }));
    h.processAll();
    expect(votesTo(h, "c").map((m) => m.granted)).toEqual([true]);
    expect(b.status().term).toBe(2);
    expect(b.status().vote).toBe("c");
  });

  test("election - once the leader is silent for an election timeout, votes are heard again", () => {
    // Pre-vote on: if b's own timer fires, it pre-campaigns without changing its term or vote.
    const h = new Harness(["a", "b", "c"]);
    h.elect("a");
    h.isolate("a");
    const b = h.node("b");
    const request = () => voteRequest("c", "b", 2, { lastLogIndex: 9, lastLogTerm: 1 });
    h.tick("b", ET - 1);
    b.step(request());
    h.processAll();
    expect(h.pending(is("voteResp", "b", "c"))).toEqual([]);
    expect(b.status().term).toBe(1);
    h.tick("b", 1);
    b.step(request());
    h.processAll();
    expect(votesTo(h, "c").map((m) => [m.term, m.granted])).toEqual([[2, true]]);
    expect(b.status().vote).toBe("c");
  });

  test("election - a restarted node ignores vote requests for one election timeout", () => {
    const h = new Harness(["a", "b", "c"]);
    h.elect("a");
    h.isolate("a", "b", "c"); // nothing from the cluster reaches b after its restart
    const b = h.restart("b");
    expect(b.status().term).toBe(1);
    const request = () => voteRequest("c", "b", 2, { lastLogIndex: 9, lastLogTerm: 1 });
    h.tick("b", ET - 1);
    b.step(request());
    h.processAll();
    expect(h.sentWhere(is("voteResp", "b", "c"))).toEqual([]);
    expect(b.status().term).toBe(1);
    h.tick("b", 1);
    b.step(request());
    h.processAll();
    const answers = h.sentWhere(is("voteResp", "b", "c")) as VoteResponse[];
    expect(answers.map((m) => [m.term, m.granted])).toEqual([[2, true]]);
    // A brand-new node, by contrast, has promised nothing and votes at once.
    const fresh = new Harness(["a", "b", "c"]);
    fresh.node("b").step(voteRequest("c", "b", 1));
    fresh.processAll();
    expect(votesTo(fresh, "c").map((m) => m.granted)).toEqual([true]);
  });

  test("election - randomised election timeouts cover exactly [ET, 2ET)", () => {
    for (const et of [5, 10]) {
      const observed = new Map<number, number>();
      for (let seed = 1; seed <= 500; seed++) {
        const node = new RaftNode(
          raftConfig(
            { id: "a", group: 1, initialConfig: config(["a", "b", "c"]) },
            { electionTicks: et, preVote: false },
          ),
          new SeededRandom(seed),
        );
        // Two rounds: the first timeout, and the re-drawn one after an unanswered campaign.
        let ticks = 0;
        let lastCampaign = 0;
        const intervals: number[] = [];
        while (intervals.length < 2) {
          ticks++;
          if (ticks > 4 * et) throw new Error(`seed ${seed}: no campaign after ${ticks} ticks`);
          const termBefore = node.status().term;
          node.tick();
          if (node.status().term !== termBefore) {
            intervals.push(ticks - lastCampaign);
            lastCampaign = ticks;
          }
        }
        for (const interval of intervals) {
          expect(interval, `seed ${seed}, ET ${et}`).toBeGreaterThanOrEqual(et);
          expect(interval, `seed ${seed}, ET ${et}`).toBeLessThan(2 * et);
          observed.set(interval, (observed.get(interval) ?? 0) + 1);
        }
      }
      const values = [...observed.keys()].sort((x, y) => x - y);
      expect(values, `ET ${et}`).toEqual(Array.from({ length: et }, (_, k) => et + k));
    }
  });

  test("election - a split vote is retried in a later term until one leader wins", () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const h = new Harness(["a", "b", "c", "d"], { preVote: false }, seed);
      // a and b campaign at once; c votes for a, d for b: neither has 3 of 4.
      h.node("a").campaign("real");
      h.node("b").campaign("real");
      h.processAll();
      h.deliver((m) => m.type === "vote" && m.from === "a" && m.to === "c");
      h.deliver((m) => m.type === "vote" && m.from === "b" && m.to === "d");
      h.stabilize();
      expect(h.leaders(), `seed ${seed}`).toEqual([]);
      for (let k = 0; k < 10 * ET && h.leaders().length === 0; k++) h.tickAndStabilize(1);
      const leaders = h.leaders();
      expect(leaders.length, `seed ${seed}`).toBe(1);
      expect(leaders[0]!.status().term, `seed ${seed}`).toBeGreaterThan(1);
      h.tickAndStabilize(2);
      for (const node of h.nodes.values()) {
        expect(node.status().leader, `seed ${seed}`).toBe(leaders[0]!.id);
        expect(node.status().term, `seed ${seed}`).toBe(leaders[0]!.status().term);
      }
    }
  });

  test("election - a candidate that is refused by a majority steps back to follower", () => {
    // a's log is behind both voters': they refuse it.
    const cluster = new Harness([], { checkQuorum: false, preVote: false });
    const voters = config(["a", "b", "c"]);
    cluster.add("a", { initialConfig: voters, restored: restoredLog([1], 2) });
    cluster.add("b", { initialConfig: voters, restored: restoredLog([1, 2], 2) });
    cluster.add("c", { initialConfig: voters, restored: restoredLog([1, 2], 2) });
    const a = cluster.node("a");
    a.campaign("real");
    cluster.stabilize();
    expect(a.status().role).toBe("follower");
    expect(a.status().term).toBe(3);
    const answers = cluster.sentWhere(is("voteResp", undefined, "a")) as VoteResponse[];
    expect(answers.map((m) => m.granted)).toEqual([false, false]);
  });

  test("election - pre-vote keeps a rejoining partitioned node from raising its term", () => {
    const h = new Harness(["a", "b", "c"]);
    const a = h.elect("a");
    const c = h.node("c");
    h.isolate("c");
    h.tickAndStabilize(10 * ET);
    expect(c.status().term).toBe(1); // it pre-campaigned many times, never really
    expect(h.sentWhere((m) => m.from === "c" && m.type === "vote" && !m.pre)).toEqual([]);
    expect(h.sentWhere((m) => m.from === "c" && m.type === "vote").length).toBeGreaterThan(0);
    h.heal();
    h.tickAndStabilize(3 * ET);
    expect(a.status().role).toBe("leader");
    for (const node of h.nodes.values()) {
      expect(node.status().term).toBe(1);
      expect(node.status().leader).toBe("a");
    }
  });

  test("election - without pre-vote a rejoining partitioned node raises its term and disrupts the leader", () => {
    const h = new Harness(["a", "b", "c"], { preVote: false });
    const a = h.elect("a");
    const c = h.node("c");
    h.isolate("c");
    h.tickAndStabilize(5 * ET);
    expect(c.status().term).toBeGreaterThan(2);
    h.heal();
    h.tickAndStabilize(5 * ET);
    // The leader heard c's higher term (in a reply to its heartbeat) and stepped down.
    expect(a.status().term).toBeGreaterThan(2);
    expect(h.leaders().length).toBe(1);
  });

  test("election - check-quorum: a leader cut off from its quorum steps down after an election timeout", () => {
    const h = new Harness(["a", "b", "c"]);
    const a = h.elect("a");
    h.isolate("a");
    h.tick("a", ET - 1);
    expect(a.status().role).toBe("leader");
    h.tick("a", ET + 1);
    expect(a.status().role).toBe("follower");
    expect(a.status().term).toBe(1);
    expect(a.status().leader).toBeNull();
  });

  test("election - check-quorum: a leader with one live follower of two keeps leading", () => {
    const h = new Harness(["a", "b", "c"]);
    const a = h.elect("a");
    h.isolate("c");
    h.tickAndStabilize(10 * ET, ["a", "b"]);
    expect(a.status().role).toBe("leader");
    expect(a.status().term).toBe(1);
  });

  test("election - without check-quorum an isolated leader stays leader", () => {
    const h = new Harness(["a", "b", "c"], { checkQuorum: false });
    const a = h.elect("a");
    h.isolate("a");
    h.tick("a", 10 * ET);
    expect(a.status().role).toBe("leader");
  });

  test("election - a single-node cluster elects itself and commits at once", () => {
    const h = new Harness(["a"]);
    h.tick("a", 2 * ET);
    const a = h.node("a");
    expect(a.status().role).toBe("leader");
    expect(a.status().commitIndex).toBe(1);
    const sent: Message[] = h.sent;
    expect(sent).toEqual([]);
  });
});
