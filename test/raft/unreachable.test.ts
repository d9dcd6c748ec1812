import { describe, expect, test } from "vitest";
import { SeededRandom } from "../../raft/rand.js";
import { Harness } from "./harness.js";

const ET = 10;
const LEASE_OF_ONE_TICK = { leaseTicks: 1, leaseDriftTicks: 0 };

/**
 * A 3-voter cluster led by "a" whose followers have applied its first entry. The lease is one
 * tick with no drift margin, so that the campaign delay alone is seen (the lease's own wait:
 * "waits out the promise behind the leader lease" below, and test/raft/reads.test.ts).
 */
function ledByA(seed: number, settings: Record<string, number> = LEASE_OF_ONE_TICK): Harness {
  const h = new Harness(["a", "b", "c"], settings, seed);
  h.elect("a");
  h.tickAndStabilize(1);
  return h;
}

/** Tick `id` alone until it campaigns; the ticks that took, or null within `max`. */
function ticksToCampaign(h: Harness, id: string, max: number): number | null {
  const node = h.node(id);
  for (let k = 1; k <= max; k++) {
    h.tick(id);
    if (node.status().role !== "follower") return k;
  }
  return null;
}

describe("raft - leader unreachable (its process is gone)", () => {
  test("unreachable - followers told their leader is gone elect a new one within 2 ticks, reason leaderUnreachable", () => {
    const h = ledByA(1);
    h.isolate("a"); // killed: nothing reaches it or leaves it
    h.node("b").peerUnreachable("a");
    h.node("c").peerUnreachable("a");
    expect(h.node("b").status().leader).toBeNull();
    h.tickAndStabilize(2, ["b", "c"]);
    // "a" still believes it leads (check-quorum deposes it later); it is dead to the others.
    const [leader, ...others] = h.leaders().filter((node) => node.id !== "a");
    expect(others).toEqual([]);
    expect(leader?.status().term).toBe(2);
    expect(leader?.status().elections).toEqual({
      timeout: 0,
      leaderUnreachable: 1,
      transfer: 0,
    });
    expect(leader?.status().lastElectionReason).toBe("leaderUnreachable");
  });

  test("unreachable - followers that pre-campaign at the same moment do not split the vote: the lower id wins", () => {
    for (let seed = 1; seed <= 10; seed++) {
      const h = ledByA(seed);
      h.isolate("a");
      h.node("b").peerUnreachable("a");
      h.node("c").peerUnreachable("a");
      // Both pre-campaign before either hears from the other.
      expect(ticksToCampaign(h, "b", 2), `seed ${seed}`).not.toBeNull();
      expect(ticksToCampaign(h, "c", 2), `seed ${seed}`).not.toBeNull();
      h.stabilize();
      expect(h.node("b").status().role, `seed ${seed}`).toBe("leader");
      expect(h.node("b").status().term, `seed ${seed}`).toBe(2);
      expect(h.node("c").status().leader, `seed ${seed}`).toBe("b");
    }
  });

  test("unreachable - a pre-vote ignored by a follower not yet told is asked again when that follower campaigns", () => {
    const h = ledByA(7);
    h.isolate("a");
    h.node("b").peerUnreachable("a");
    expect(ticksToCampaign(h, "b", 2)).not.toBeNull();
    h.stabilize(); // c, still in a's lease, ignores b's pre-vote
    expect(h.node("b").status().role).toBe("precandidate");
    h.node("c").peerUnreachable("a");
    expect(ticksToCampaign(h, "c", 2)).not.toBeNull();
    h.stabilize();
    expect(h.node("b").status().role).toBe("leader");
    expect(h.node("c").status().leader).toBe("b");
    expect(h.node("c").status().term).toBe(2);
  });

  test("unreachable - a follower that grants a rival's early pre-vote gives up its own early campaign", () => {
    const h = ledByA(6);
    h.isolate("a");
    // A tick since contact: the one-tick lease promise has run out, so c may grant at once.
    h.tick("b");
    h.tick("c");
    h.node("b").peerUnreachable("a");
    h.node("c").peerUnreachable("a");
    expect(ticksToCampaign(h, "b", 2)).not.toBeNull();
    h.deliver((m) => m.type === "vote" && m.to === "c"); // c grants b's pre-vote
    h.take(); // b never hears back: its election stalls
    expect(ticksToCampaign(h, "c", ET - 1)).toBeNull();
  });

  test("unreachable - the early campaign waits out the promise behind the leader lease (leaseTicks + drift since contact)", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const h = ledByA(seed, { leaseTicks: 2, leaseDriftTicks: 2 });
      h.isolate("a");
      h.tick("b"); // one tick since b heard from a
      h.node("b").peerUnreachable("a");
      // Never before 4 ticks since contact (3 more), then within the 1..2 tick delay at most.
      const ticks = ticksToCampaign(h, "b", ET);
      expect(ticks, `seed ${seed}`).toBe(3);
    }
  });

  test("unreachable - the delay is 1 or 2 ticks, drawn from the seed: the same seed, the same delay", () => {
    const seen = new Set<number>();
    for (let seed = 1; seed <= 40; seed++) {
      const delay = (s: number) => {
        const h = ledByA(s);
        h.isolate("a");
        h.node("b").peerUnreachable("a");
        return ticksToCampaign(h, "b", 2 * ET);
      };
      const ticks = delay(seed);
      expect(ticks, `seed ${seed}`).not.toBeNull();
      expect([1, 2], `seed ${seed}`).toContain(ticks);
      expect(delay(seed), `seed ${seed}`).toBe(ticks);
      seen.add(ticks!);
    }
    expect([...seen].sort()).toEqual([1, 2]);
  });

  test("unreachable - a follower not told keeps its lease and ignores the pre-vote: one flapping link deposes no live leader", () => {
    const h = ledByA(2);
    h.node("c").peerUnreachable("a");
    expect(ticksToCampaign(h, "c", 2)).not.toBeNull();
    h.stabilize(); // a and b heard from a live leader: they ignore c's pre-vote
    expect(h.node("c").status().role).toBe("precandidate");
    h.tickAndStabilize(3 * ET);
    for (const id of ["a", "b", "c"]) expect(h.node(id).status().term, id).toBe(1);
    expect(h.node("a").status().role).toBe("leader");
    expect(h.node("c").status().leader).toBe("a");
  });

  test("unreachable - word from the leader after the report puts back a full election timeout", () => {
    const h = ledByA(3);
    const b = h.node("b");
    b.peerUnreachable("a");
    h.tick("a"); // a heartbeat: the leader lives after all
    h.deliver((m) => m.to === "b" && m.type === "heartbeat");
    expect(b.status().leader).toBe("a");
    const ticks = ticksToCampaign(h, "b", 2 * ET);
    expect(ticks).toBeGreaterThanOrEqual(ET);
    expect(b.status().lastElectionReason).toBe("timeout");
  });

  test("unreachable - a report about another peer, or to a leader or candidate, changes nothing", () => {
    const h = ledByA(4);
    h.node("b").peerUnreachable("c");
    expect(h.node("b").status().leader).toBe("a");
    expect(ticksToCampaign(h, "b", ET - 1)).toBeNull();
    const a = h.node("a");
    a.peerUnreachable("b");
    expect(a.status().role).toBe("leader");
    expect(a.hasReady()).toBe(false);
  });

  test("unreachable - randomized: leader alive, single followers told at random times, the term never changes", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const h = ledByA(seed);
      const random = new SeededRandom(seed);
      for (let step = 0; step < 20 * ET; step++) {
        if (random.chance(0.1)) h.node(random.pick(["b", "c"])).peerUnreachable("a");
        h.tickAndStabilize(1);
        expect(h.node("a").status().term, `seed ${seed} step ${step}`).toBe(1);
        expect(h.node("a").status().role, `seed ${seed} step ${step}`).toBe("leader");
      }
    }
  });

  test("unreachable - elections are counted by reason: timeout and transfer", () => {
    const h = ledByA(5);
    h.node("a").transferLeadership("b");
    h.stabilize();
    expect(h.node("b").status().role).toBe("leader");
    expect(h.node("b").status().elections.transfer).toBe(1);
    expect(h.node("b").status().lastElectionReason).toBe("transfer");
    h.isolate("b");
    expect(ticksToCampaign(h, "c", 2 * ET + ET)).not.toBeNull();
    expect(h.node("c").status().elections).toEqual({
      timeout: 1,
      leaderUnreachable: 0,
      transfer: 0,
    });
  });
});
