import { afterEach, describe, expect, it } from "vitest";
import { TestCluster } from "./harness.js";

/**
 * Failover after kill -9 of the leader (issue 14): the followers' peer links to it close and
 * their reconnects are refused, so they campaign at once instead of waiting out the election
 * timeout. The election timeout here is long (1–2 s) so that only that path can win the
 * race; the tests assert the reason the elections give, never how fast they were.
 */

let cluster: TestCluster | null = null;

afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

const slowTimeout = { raft: { tickMs: 20, electionTicks: 50, heartbeatTicks: 2 } };

/** stageraft_raft_elections_started_total by reason, from a node's /metrics. */
async function electionsStarted(c: TestCluster, name: string): Promise<Record<string, number>> {
  const response = await fetch(`http://${c.node(name).client}/metrics`, {
    signal: AbortSignal.timeout(2_000),
  });
  const text = await response.text();
  const counts: Record<string, number> = {};
  for (const match of text.matchAll(
    /^stageraft_raft_elections_started_total\{[^}]*reason="([^"]+)"[^}]*\} (\d+)/gm,
  ))
    counts[match[1]!] = Number(match[2]);
  return counts;
}

describe("failover - kill -9 of the leader", () => {
  it("failover - the survivors elect a leader because the leader's process is gone, and say so", async () => {
    cluster = await TestCluster.start(3, slowTimeout);
    const leader = await cluster.waitForLeader();
    const client = cluster.client();
    await client.put("before", "1");
    const survivors = cluster.nodes.filter((n) => n.name !== leader).map((n) => n.name);
    // The first election was won on a timeout: count from here.
    const before = new Map<string, Record<string, number>>();
    for (const name of survivors) before.set(name, await electionsStarted(cluster, name));
    await cluster.kill(leader, "SIGKILL");
    const newLeader = await cluster.waitForLeader(15_000, survivors);
    expect(newLeader).not.toBe(leader);
    await cluster.client(survivors).put("after", "2");
    const started = await electionsStarted(cluster, newLeader);
    const earlier = before.get(newLeader)!;
    expect(started["leader-unreachable"]! - earlier["leader-unreachable"]!).toBe(1);
    for (const name of survivors) {
      const now = await electionsStarted(cluster, name);
      expect(now.timeout, `${name}: no election on a timeout`).toBe(before.get(name)!.timeout);
    }
    await cluster.waitForOutput(newLeader, '"electionReason":"leaderUnreachable"');
    for (const name of survivors) await cluster.waitForOutput(name, "its process is gone");
  });

  it("failover - a follower killed and restarted while the leader lives starts no election", async () => {
    cluster = await TestCluster.start(3, slowTimeout);
    const leader = await cluster.waitForLeader();
    const term = Number((await cluster.health(leader))?.term);
    const before = new Map<string, Record<string, number>>();
    for (const node of cluster.nodes)
      before.set(node.name, await electionsStarted(cluster, node.name));
    const follower = cluster.nodes.find((n) => n.name !== leader)!.name;
    await cluster.kill(follower, "SIGKILL");
    // Its peers see its links close and its port refuse: it is not their leader.
    await cluster.waitForOutput(leader, "its process is gone");
    cluster.restart(follower);
    await cluster.client([follower]).put("back", "1");
    await cluster.waitForHealth(follower, (h) => h.leader === leader);
    for (const node of cluster.nodes) {
      expect((await cluster.health(node.name))?.term, node.name).toBe(term);
      // The restarted follower counts from 0 again: it must not have started one either.
      const earlier = node.name === follower ? {} : before.get(node.name)!;
      const started = await electionsStarted(cluster, node.name);
      expect(started["leader-unreachable"], node.name).toBe(0);
      expect(started.timeout, node.name).toBe(earlier.timeout ?? 0);
    }
  });
});
