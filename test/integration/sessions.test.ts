import { afterEach, describe, expect, it } from "vitest";
import { fastRaft, sleep, TestCluster } from "./harness.js";

let cluster: TestCluster | null = null;

afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

describe("sessions - exactly-once writes", () => {
  it("sessions - a retried (session, seq) gets its first answer and is not applied again", async () => {
    cluster = await TestCluster.start(3);
    const client = cluster.client();
    const first = await client.request({ op: "incr", key: "c", delta: 1, session: "s1", seq: 1 });
    const again = await client.request({ op: "incr", key: "c", delta: 1, session: "s1", seq: 1 });
    expect(again).toEqual(first);
    expect((await client.get("c")).value).toBe("1");
    expect(
      (await client.request({ op: "incr", key: "c", delta: 1, session: "s1", seq: 2 })).value,
    ).toBe(2);
    // Another session's seq 1 is its own.
    expect(
      (await client.request({ op: "incr", key: "c", delta: 1, session: "s2", seq: 1 })).value,
    ).toBe(3);
    // Session records are invisible to scans.
    expect((await client.scan({})).items.map((item) => item.key)).toEqual(["c"]);
  });

  it("sessions - the table survives a restart and a snapshot", async () => {
    cluster = await TestCluster.start(1, {
      raft: { ...fastRaft, snapshotEvery: 5, snapshotRetainEntries: 0 },
    });
    const client = cluster.client();
    const first = await client.request({ op: "incr", key: "n", delta: 7, session: "keep", seq: 1 });
    for (let k = 0; k < 12; k++) await client.put(`fill${k}`, "x"); // past two snapshots
    await cluster.kill("n1", "SIGKILL");
    cluster.restart("n1");
    await cluster.waitForLeader();
    const after = cluster.client();
    expect(
      await after.request({ op: "incr", key: "n", delta: 7, session: "keep", seq: 1 }),
    ).toEqual(first);
    expect((await after.get("n")).value).toBe("7");
  });

  it("sessions - kill -9 of the leader with session writes in flight: each applies exactly once", async () => {
    cluster = await TestCluster.start(3);
    const leader = await cluster.waitForLeader();
    const client = cluster.client(
      cluster.nodes.map((n) => n.name),
      { session: true, requestTimeoutMs: 2_000, maxAttempts: 40 },
    );
    const increments: Promise<unknown>[] = [];
    for (let k = 0; k < 200; k++) {
      increments.push(client.incr("counter", 1));
      if (k === 100) void cluster.kill(leader, "SIGKILL");
      await sleep(2);
    }
    const outcomes = await Promise.allSettled(increments);
    const failed = outcomes
      .filter((o) => o.status === "rejected")
      .map((o) => String((o as PromiseRejectedResult).reason));
    expect(failed).toEqual([]);
    const reader = cluster.client(
      cluster.nodes.filter((n) => n.name !== leader).map((n) => n.name),
    );
    expect((await reader.get("counter")).value, `SIGKILL of ${leader} mid-stream`).toBe("200");
  });
});
