import { afterEach, describe, expect, it } from "vitest";
import { fastRaft, TestCluster } from "./harness.js";

let cluster: TestCluster | null = null;

afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

describe("workers - the state machine in the apply stage's worker thread", () => {
  it("workers - KV, sessions and vectors behave as inline, through a leader kill and a snapshot", async () => {
    cluster = await TestCluster.start(3, {
      raft: { ...fastRaft, snapshotEvery: 40, snapshotRetainEntries: 5 },
      stages: { apply: { pool: "workers" } },
    });
    const leader = await cluster.waitForLeader();
    const client = cluster.client(
      cluster.nodes.map((n) => n.name),
      { session: true },
    );
    await client.vcreate("v", { dim: 2, metric: "l2" });
    for (let k = 0; k < 60; k++) {
      await client.put(`k${k}`, `${k}`);
      await client.vput("v", `p${k}`, [k, k % 5]);
    }
    expect((await client.incr("n", 3)).value).toBe(3);
    await cluster.kill(leader, "SIGKILL");
    const survivors = cluster.nodes.filter((n) => n.name !== leader).map((n) => n.name);
    await cluster.waitForLeader(15_000, survivors);
    const after = cluster.client(survivors);
    expect((await after.get("k59")).value).toBe("59");
    const hits = (await after.vsearch("v", [10, 0], 3)).hits.map((hit) => hit.key);
    expect(hits[0]).toBe("p10");
    cluster.restart(leader);
    const last = await after.put("back", "1");
    await cluster.waitForHealth(leader, (h) => Number(h.appliedIndex) >= last.index);
    const restarted = cluster.client([leader]);
    expect((await restarted.vsearch("v", [10, 0], 3)).hits.map((hit) => hit.key)).toEqual(hits);
    expect(cluster.node(leader).output).not.toContain('"level":60');
  });
});
