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

describe("workers - the Raft core in the raft-step stage's worker thread", () => {
  it("workers - forwarding, reads, transfer, InstallSnapshot and a clean stop with both pools in workers", async () => {
    cluster = await TestCluster.start(3, {
      raft: { ...fastRaft, snapshotEvery: 30, snapshotRetainEntries: 5 },
      stages: { raftStep: { pool: "workers" }, apply: { pool: "workers" } },
    });
    const leader = await cluster.waitForLeader();
    for (const node of cluster.nodes) expect(node.output).toContain('"raftStepPool":"workers"');
    // The stages report where they run (/health, /dashboard, /metrics).
    const stages = (await cluster.health(leader))!.stages as { name: string; poolKind: string }[];
    expect(stages.find((s) => s.name === "raft-step")?.poolKind).toBe("workers");
    expect(stages.find((s) => s.name === "apply")?.poolKind).toBe("workers");
    expect(stages.find((s) => s.name === "wal-append")?.poolKind).toBe("inline");
    const followers = cluster.nodes.filter((n) => n.name !== leader).map((n) => n.name);
    const [follower, lagging] = followers as [string, string];
    // Through a follower: it forwards to the leader in the worker's view of the cluster.
    const viaFollower = cluster.client([follower]);
    for (let k = 0; k < 10; k++) await viaFollower.put(`a${k}`, `${k}`);
    expect((await viaFollower.get("a9")).value).toBe("9");
    expect((await viaFollower.get("a9", { consistency: "lease" })).value).toBe("9");
    const status = await viaFollower.status();
    expect(status.role).toBe("follower");
    expect(status.leader).toBe(leader);
    expect(status.commitIndex).toBeGreaterThanOrEqual(10);

    // A follower stopped while the leader snapshots and compacts past it: InstallSnapshot.
    await cluster.kill(lagging, "SIGKILL");
    const writer = cluster.client([leader]);
    let last = 0;
    for (let k = 0; k < 80; k++) last = (await writer.put(`b${k}`, `${k}`)).index;
    cluster.restart(lagging);
    await cluster.waitForHealth(lagging, (h) => Number(h.appliedIndex) >= last);
    expect((await cluster.client([lagging]).get("b79", { consistency: "stale" })).value).toBe("79");
    expect(cluster.node(lagging).output).toContain("state restored from an installed snapshot");

    // Transfer waits for a condition the core evaluates in its worker.
    const admin = cluster.client([leader]);
    expect((await admin.transferLeader(follower)).leader).toBe(follower);
    expect(await cluster.waitForLeader()).toBe(follower);
    expect((await cluster.client([follower]).put("after", "1")).index).toBeGreaterThan(last);

    // SIGTERM on the leader with writes in flight: the pipeline drains (the worker's round
    // out included), then the core's worker closes: exit 0, not 70.
    const busy = cluster.client([follower]);
    const inflight = Array.from({ length: 300 }, (_, k) =>
      busy.put(`c${k}`, "x").then(
        () => "ok",
        () => "failed",
      ),
    );
    await busy.put("c-first", "x");
    await cluster.kill(follower, "SIGTERM");
    expect(cluster.node(follower).exitCode).toBe(0);
    expect(cluster.node(follower).output).toContain("stageraft node stopped");
    await Promise.all(inflight);
    for (const node of cluster.nodes) expect(node.output).not.toContain('"level":60');
  });
});
