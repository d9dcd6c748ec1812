import { describe, expect, it } from "vitest";
import { Cluster } from "../../src/remu/mod.js";

/**
 * remu models a crash as the server's peer links see it — connections reset, the port
 * refuses — and tells the crashed node's peers (peerUnreachable); a partition is silence.
 * So a crashed leader is replaced on that signal, a partitioned one on a timeout.
 */

function newLeaderAfter(seed: number, fault: (cluster: Cluster, leader: string) => void) {
  const cluster = new Cluster({ nodes: 3, seed });
  expect(
    cluster.runUntil(() => cluster.leaders().length === 1, 5_000),
    `seed ${seed}`,
  ).toBe(true);
  const leader = cluster.leaders()[0]!;
  // The followers must know whom they follow: a signal about a peer is about their leader.
  const known = () =>
    [...cluster.nodes.keys()].every((id) => cluster.raft(id)?.status().leader === leader);
  expect(cluster.runUntil(known, 5_000), `seed ${seed}`).toBe(true);
  fault(cluster, leader);
  const others = [...cluster.nodes.keys()].filter((id) => id !== leader);
  const elected = () => others.find((id) => cluster.raft(id)?.status().role === "leader");
  expect(
    cluster.runUntil(() => elected() !== undefined, 10_000),
    `seed ${seed}`,
  ).toBe(true);
  return cluster.raft(elected()!)!.status().lastElectionReason;
}

describe("remu - a crash signals its peers, a partition does not", () => {
  it("remu - a crashed leader is replaced because it is unreachable", () => {
    for (let seed = 1; seed <= 10; seed++)
      expect(
        newLeaderAfter(seed, (c, leader) => c.crash(leader)),
        `seed ${seed}`,
      ).toBe("leaderUnreachable");
  });

  it("remu - a partitioned leader is replaced on a timeout", () => {
    for (let seed = 1; seed <= 10; seed++)
      expect(
        newLeaderAfter(seed, (c, leader) => c.isolate(leader)),
        `seed ${seed}`,
      ).toBe("timeout");
  });
});
