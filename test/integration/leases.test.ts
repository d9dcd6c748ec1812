import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import type { StageraftClient } from "../../src/mod.js";
import { sleep, TestCluster } from "./harness.js";

/**
 * Leases on real processes (CONTRACT §5): a lease whose keep-alives stop expires within its
 * ttl plus one election timeout while the leader stays, and within ttl plus two across a
 * leader change; a leader change never expires a lease early; its keys vanish on every node.
 */

/** Slower than fastRaft on purpose: an election timeout of 1 s keeps the bounds far above
 * the scheduling noise of a loaded machine. */
const raft = { tickMs: 100, electionTicks: 10, heartbeatTicks: 2 };
const electionTimeoutMs = raft.tickMs * raft.electionTicks;
const ttl = 2;

let cluster: TestCluster | null = null;

afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

const mod = fileURLToPath(new URL("../../dist/src/mod.js", import.meta.url));

/** A client in its own process that grants a lease, puts `key` on it, keeps it alive. */
function leaseHolder(endpoints: string, key: string) {
  const script = `
    const { connect } = await import(${JSON.stringify(mod)});
    const db = connect(${JSON.stringify(endpoints)});
    const lease = await db.lease(${ttl});
    await db.put(${JSON.stringify(key)}, "held", { lease: lease.id });
    process.stdout.write("lease " + lease.id + "\\n");
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const id = new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const match = /lease (\d+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    child.once("exit", (code) => reject(new Error(`lease holder exited (${code}) early`)));
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return { child, id, exited };
}

/** When `key` is gone on every named node (stale reads, each node's own applied state). */
async function goneEverywhere(
  clients: readonly StageraftClient[],
  key: string,
  timeoutMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = await Promise.all(
      clients.map(async (c) => (await c.get(key, { consistency: "stale" })).found),
    );
    if (found.every((f) => !f)) return Date.now();
    await sleep(20);
  }
  throw new Error(`${key} still present after ${timeoutMs} ms`);
}

describe("leases - real processes", () => {
  it("leases - a SIGKILLed lease holder's lease expires within ttl + one election timeout; its key vanishes on every node", async () => {
    cluster = await TestCluster.start(3, { raft });
    const names = cluster.nodes.map((n) => n.name);
    const holder = leaseHolder(cluster.nodes.map((n) => n.client).join(","), "svc/a");
    const id = await holder.id;
    const perNode = names.map((name) => cluster!.client([name]));
    const db = cluster.client();
    expect(await db.leases.timeToLive(id, { keys: true })).toMatchObject({
      grantedTtl: ttl,
      keys: ["svc/a"],
    });
    // The key carries its lease (KeyValue.lease, CONTRACT §5).
    expect(await db.request({ op: "get", key: "svc/a" })).toMatchObject({ found: true, lease: id });
    // Kept alive: still there after more than its ttl.
    await sleep(ttl * 1000 + 500);
    expect((await db.get("svc/a")).found).toBe(true);
    holder.child.kill("SIGKILL");
    await holder.exited;
    const killedAt = Date.now();
    const goneAt = await goneEverywhere(perNode, "svc/a", 20_000);
    expect(goneAt - killedAt).toBeLessThanOrEqual(ttl * 1000 + electionTimeoutMs);
    expect(await db.leases.timeToLive(id)).toEqual({ ttl: -1, grantedTtl: 0 });
    expect(await db.leases.list()).not.toContain(id);
    await expect(db.leases.keepAlive(id)).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(db.put("x", "y", { lease: id })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("leases - a leader kill does not expire a kept-alive lease early, and a lease left alone still expires within ttl + two election timeouts", async () => {
    cluster = await TestCluster.start(3, { raft });
    const db = cluster.client(
      cluster.nodes.map((n) => n.name),
      { maxAttempts: 40 },
    );
    const lease = await db.lease(ttl);
    await db.put("svc/b", "up", { lease: lease.id });
    const first = await cluster.waitForLeader();
    await cluster.kill(first);
    // Keep-alives go on through the election; the lease outlives several ttls.
    const others = cluster.nodes.filter((n) => n.name !== first).map((n) => n.name);
    await cluster.waitForLeader(15_000, others);
    await sleep(3 * ttl * 1000);
    const lost = await Promise.race([lease.lost, sleep(0).then(() => "not lost")]);
    expect(lost).toBe("not lost");
    expect((await db.get("svc/b")).found).toBe(true);
    // Bring the old leader back so that a second kill leaves a quorum.
    cluster.restart(first);
    await cluster.waitForHealth(first, (h) => h.leader !== null && h.leader !== undefined);
    await goneEverywhereNot(cluster.client([first]), "svc/b");
    // Stop keeping alive and kill the current leader at once.
    const second = await cluster.waitForLeader();
    lease.close();
    const stoppedAt = Date.now();
    await cluster.kill(second);
    const survivors = cluster.nodes.filter((n) => n.name !== second).map((n) => n.name);
    const goneAt = await goneEverywhere(
      survivors.map((name) => cluster!.client([name])),
      "svc/b",
      30_000,
    );
    expect(goneAt - stoppedAt).toBeLessThanOrEqual(ttl * 1000 + 2 * electionTimeoutMs);
  });
});

describe("leases - an outage longer than the ttl", () => {
  it("leases - a lease kept alive through 4 s without a quorum (ttl 2 s) survives: the new leader counts its ttl from taking office", async () => {
    cluster = await TestCluster.start(3, { raft });
    const leader = await cluster.waitForLeader();
    const follower = cluster.nodes.find((n) => n.name !== leader)!.name;
    // The client does not know the node that will be stopped: a request stuck on it would
    // wait for the client's timeout, which is the client's matter, not the cluster's.
    const db = cluster.client(
      cluster.nodes.filter((n) => n.name !== follower).map((n) => n.name),
      { maxAttempts: 400 },
    );
    const lease = await db.lease(ttl);
    await db.put("svc/c", "up", { lease: lease.id });
    await cluster.kill(follower, "SIGSTOP");
    await cluster.kill(leader);
    await sleep(2 * ttl * 1000);
    await cluster.kill(follower, "SIGCONT");
    const others = cluster.nodes.filter((n) => n.name !== leader).map((n) => n.name);
    await cluster.waitForLeader(15_000, others);
    await sleep(3 * ttl * 1000);
    const lost = await Promise.race([lease.lost, sleep(0).then(() => "not lost")]);
    expect(lost).toBe("not lost");
    expect((await db.get("svc/c")).found).toBe(true);
    lease.close();
  });
});

describe("leases - both pools in worker threads", () => {
  it("leases - with raft-step and the state machine in workers, a lease expires and takes its key; it survives a restart until then", async () => {
    cluster = await TestCluster.start(1, {
      raft,
      stages: { raftStep: { pool: "workers" }, apply: { pool: "workers" } },
    });
    const db = cluster.client();
    const { lease } = await db.leases.grant(3);
    await db.put("w", "1", { lease });
    await cluster.kill("n1");
    cluster.restart("n1");
    await cluster.waitForLeader();
    const again = cluster.client();
    expect(await again.leases.timeToLive(lease, { keys: true })).toMatchObject({
      grantedTtl: 3,
      keys: ["w"],
    });
    await goneEverywhere([again], "w", 20_000);
    expect(await again.leases.list()).toEqual([]);
  });
});

/** Wait until a restarted node has caught up far enough to hold `key`. */
async function goneEverywhereNot(client: StageraftClient, key: string): Promise<void> {
  for (let k = 0; k < 200; k++) {
    if ((await client.get(key, { consistency: "stale" })).found) return;
    await sleep(50);
  }
  throw new Error(`${key} never reached the restarted node`);
}
