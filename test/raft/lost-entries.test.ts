import { describe, expect, test } from "vitest";
import type { VoteResponse } from "../../raft/types.js";
import { Harness, is, voteRequest } from "./harness.js";

/**
 * A follower whose storage lost synced (acknowledged) entries — a disk fault Raft does not
 * assume. The leader must notice it (the follower's log is shorter than its match index) and
 * repair it; the follower, when it can tell, must not vote until it holds them again.
 */

const ET = 10;

function electedCluster(): Harness {
  const h = new Harness(["a", "b", "c"], {}, 1);
  h.elect("a");
  h.tickAndStabilize(1);
  return h;
}

/** Write `n` entries through the leader a and let everyone ack them. */
function write(h: Harness, n: number): void {
  for (let k = 0; k < n; k++) h.propose("a", `x${k}`);
  h.stabilize();
}

/** b's disk loses every entry after `keep` (the hard state too, with `commit` as stored). */
function loseTail(h: Harness, id: string, keep: number, commit: number): void {
  const disk = h.disks.get(id)!;
  disk.entries = disk.entries.filter((e) => e.index <= keep);
  disk.hardState = { ...disk.hardState, commit };
}

describe("lost entries", () => {
  test("lost entries - the leader repairs a follower whose log is shorter than its match index", () => {
    const h = electedCluster();
    const a = h.node("a");
    write(h, 6);
    const last = a.log.lastIndex();
    expect(a.progress.get("b")!.matchIndex).toBe(last);
    loseTail(h, "b", 3, 3);
    h.restart("b");
    expect(h.node("b").log.lastIndex()).toBe(3);
    h.tickAndStabilize(3);
    write(h, 1);
    expect(h.node("b").log.lastIndex()).toBe(a.log.lastIndex());
    expect(a.progress.get("b")!.matchIndex).toBe(a.log.lastIndex());
    expect(a.status().followersLostEntries).toBe(1);
    expect(a.status().lastLostEntries).toEqual({ peer: "b", matchIndex: last, lastIndex: 3 });
  });

  test("lost entries - with no writes, a heartbeat beyond the follower's log reveals the loss", () => {
    const h = electedCluster();
    const a = h.node("a");
    write(h, 6);
    loseTail(h, "b", 3, 3);
    h.restart("b");
    h.tickAndStabilize(3);
    expect(h.node("b").log.lastIndex()).toBe(a.log.lastIndex());
    expect(h.node("b").status().commitIndex).toBe(a.status().commitIndex);
    expect(a.status().followersLostEntries).toBe(1);
  });

  test("lost entries - a restarted node whose committed entries are gone neither votes nor campaigns until it holds them again", () => {
    const h = electedCluster();
    const a = h.node("a");
    write(h, 6);
    const commit = a.status().commitIndex;
    loseTail(h, "b", 3, commit);
    const b = h.restart("b");
    expect(b.status().catchUpIndex).toBe(commit);
    // A candidate whose log is as long as b's, but lacks what b lost: refused, pre-vote and vote.
    h.isolate("a");
    const ask = (pre: boolean, lastLogIndex = 3) => {
      const lastLogTerm = b.log.term(b.log.lastIndex())!;
      h.stepMessage(
        voteRequest("c", "b", b.status().term + 1, {
          lastLogIndex,
          lastLogTerm,
          pre,
          transfer: true,
        }),
      );
      const answers = h.pending(is("voteResp", "b", "c"));
      h.queue = [];
      return answers.map((m) => (m as VoteResponse).granted);
    };
    expect(ask(true)).toEqual([false]);
    h.tick(["b"], 5 * ET);
    expect(b.status().role).toBe("follower");
    expect(ask(false)).toEqual([false]);
    // Repaired by a leader, it votes again.
    h.heal();
    h.tickAndStabilize(5 * ET);
    const leader = h.ids.find((id) => h.node(id).status().role === "leader")!;
    expect(leader).not.toBe("b");
    h.propose(leader, "after");
    h.stabilize();
    expect(b.log.lastIndex()).toBe(h.node(leader).log.lastIndex());
    expect(b.status().catchUpIndex).toBe(0);
    expect(ask(false, b.log.lastIndex())).toEqual([true]);
  });
});
