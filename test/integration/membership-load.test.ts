import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { afterEach, describe, expect, it } from "vitest";
import type { StageraftClient } from "../../src/mod.js";
import { fastRaft, sleep, TestCluster } from "./harness.js";

/**
 * Membership changes and leadership transfer on real processes while a client keeps writing:
 * every write the cluster acknowledged must be readable, with its value, on every remaining
 * node — by stale reads once the node has applied it, and by linearizable reads.
 */

let cluster: TestCluster | null = null;

afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

/** Writes distinct keys continuously (exactly-once session writes) until stopped. */
class Writer {
  readonly acked = new Map<string, { value: string; index: number }>();
  readonly failed: { key: string; error: string }[] = [];
  private stopping = false;
  private readonly loops: Promise<void>[] = [];
  private counter = 0;

  constructor(
    private readonly client: StageraftClient,
    private readonly prefix: string,
    private readonly concurrency = 4,
  ) {}

  start(): this {
    for (let k = 0; k < this.concurrency; k++) this.loops.push(this.loop());
    return this;
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      const n = this.counter++;
      const key = `${this.prefix}${String(n).padStart(6, "0")}`;
      const value = `value-${n}`;
      try {
        const { index } = await this.client.put(key, value);
        this.acked.set(key, { value, index });
      } catch (error) {
        this.failed.push({ key, error: String(error) });
      }
    }
  }

  /** Wait (for the condition, not a duration) until `count` more writes are acknowledged. */
  async waitForMore(count: number, timeoutMs = 20_000): Promise<void> {
    const target = this.acked.size + count;
    const deadline = Date.now() + timeoutMs;
    while (this.acked.size < target) {
      if (Date.now() > deadline) {
        throw new Error(
          `the writer got ${this.acked.size}/${target} acknowledgements; failures: ${JSON.stringify(this.failed.slice(-5))}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
  }

  get lastIndex(): number {
    let last = 0;
    for (const { index } of this.acked.values()) last = Math.max(last, index);
    return last;
  }
}

/** Every acknowledged write, read back on each named node: stale (once applied) and linearizable. */
async function expectAllReadable(
  c: TestCluster,
  names: readonly string[],
  acked: ReadonlyMap<string, { value: string; index: number }>,
  prefix: string,
): Promise<void> {
  let last = 0;
  for (const { index } of acked.values()) last = Math.max(last, index);
  const keys = [...acked.keys()];
  for (const name of names) {
    await c.waitForHealth(name, (h) => Number(h.appliedIndex) >= last, 20_000);
    const reader = c.client([name], { maxAttempts: 20, requestTimeoutMs: 20_000 });
    const scanned = await reader.scan({ prefix, consistency: "stale" });
    const stored = new Map(scanned.items.map((item) => [item.key, item.value]));
    expect(
      keys.filter((key) => stored.get(key) !== acked.get(key)!.value),
      `stale scan at ${name}`,
    ).toEqual([]);
    const stale = await Promise.all(keys.map((key) => reader.get(key, { consistency: "stale" })));
    expect(
      keys.filter((key, k) => stale[k]!.value !== acked.get(key)!.value),
      `stale gets at ${name}`,
    ).toEqual([]);
    const linearizable = await Promise.all(keys.map((key) => reader.get(key)));
    expect(
      keys.filter((key, k) => linearizable[k]!.value !== acked.get(key)!.value),
      `linearizable gets at ${name}`,
    ).toEqual([]);
  }
}

async function expectMembers(c: TestCluster, names: readonly string[]): Promise<void> {
  const expected = names
    .map((name) => ({
      name,
      peer: c.node(name).peer,
      client: c.node(name).client,
      voter: true,
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
  for (const name of names) {
    const view = await c.client([name]).members();
    expect(
      [...view].sort((a, b) => a.name.localeCompare(b.name)),
      `members as ${name} sees them`,
    ).toEqual(expected);
  }
}

function writerClient(c: TestCluster, names: readonly string[]): StageraftClient {
  return c.client(names, { session: true, maxAttempts: 40, requestTimeoutMs: 5_000 });
}

describe("membership under a write load", () => {
  it("membership - grow 3 → 5 and shrink back to 3 while a session writer keeps writing; nothing acknowledged is lost", async () => {
    cluster = await TestCluster.start(3, {
      raft: { ...fastRaft, snapshotEvery: 200, snapshotRetainEntries: 20 },
    });
    const c = cluster;
    const original = ["n1", "n2", "n3"];
    const writer = new Writer(writerClient(c, original), "grow/").start();
    await writer.waitForMore(50);
    const leader = await c.waitForLeader();
    const admin = c.client([leader], { requestTimeoutMs: 30_000, maxAttempts: 1 });

    for (const name of ["n4", "n5"]) {
      // Start it first (README: "start it with --initial-cluster-state existing …, then member
      // add"), so that the leader's first connection to it finds it listening.
      const node = await c.join(name);
      await c.waitForHealth(name, () => true);
      const members = await admin.memberAdd({ name, peer: node.peer, client: node.client });
      // In as a learner; the leader promotes it once it has caught up.
      expect(members.find((m) => m.name === name)).toMatchObject({
        name,
        peer: node.peer,
        client: node.client,
      });
      await writer.waitForMore(50);
    }
    const five = [...original, "n4", "n5"];
    while ((await admin.members()).filter((m) => m.voter).length < five.length) await sleep(100);
    await expectMembers(c, five);
    // The new members hold everything acknowledged so far.
    await expectAllReadable(c, ["n4", "n5"], new Map(writer.acked), "grow/");

    for (const name of ["n5", "n4"]) {
      const members = await admin.memberRemove(name);
      expect(members.map((m) => m.name)).not.toContain(name);
      await writer.waitForMore(50);
      await c.kill(name);
    }
    await writer.waitForMore(50);
    await writer.stop();
    expect(writer.failed, "writes that failed for good").toEqual([]);
    await c.waitForLeader();
    await expectMembers(c, original);
    await expectAllReadable(c, original, writer.acked, "grow/");
  });

  it("membership - replace a member that lost its disk: remove, wipe, add again, rebuilt by InstallSnapshot", async () => {
    cluster = await TestCluster.start(3, {
      raft: { ...fastRaft, snapshotEvery: 50, snapshotRetainEntries: 10 },
    });
    const c = cluster;
    const leader = await c.waitForLeader();
    const victim = c.nodes.find((n) => n.name !== leader)!;
    const survivors = c.nodes.filter((n) => n !== victim).map((n) => n.name);
    const writer = new Writer(writerClient(c, survivors), "disk/").start();
    await writer.waitForMore(100);
    await c.waitForHealth(victim.name, (h) => Number(h.appliedIndex) >= writer.lastIndex);

    // The disk is lost: kill -9, remove the member, wipe its data dir.
    await c.kill(victim.name, "SIGKILL");
    const admin = c.client([leader], { requestTimeoutMs: 30_000, maxAttempts: 1 });
    const afterRemove = await admin.memberRemove(victim.name);
    expect(afterRemove.map((m) => m.name).sort()).toEqual([...survivors].sort());
    await rm(victim.dataDir, { recursive: true, force: true });
    expect(existsSync(victim.dataDir)).toBe(false);

    // Writes go on; the leader snapshots every 50 entries and compacts its log past them.
    const snapshotsBefore = c.node(leader).output.split("snapshot taken").length;
    await writer.waitForMore(150);
    // Node output arrives through a pipe: poll for it rather than read it once.
    await pollUntil(
      () => c.node(leader).output.split("snapshot taken").length > snapshotsBefore,
      "the leader compacted its log while the member was gone",
    );

    // Add it again with the same name and addresses, then start it on the empty data dir.
    const outputBefore = victim.output.length;
    const adding = admin.memberAdd({ name: victim.name, peer: victim.peer, client: victim.client });
    c.spawn(victim, ["--initial-cluster-state", "existing"]);
    const members = await adding;
    expect(members.find((m) => m.name === victim.name)).toMatchObject({
      name: victim.name,
      peer: victim.peer,
      client: victim.client,
    });
    await writer.waitForMore(50);
    await writer.stop();
    expect(writer.failed, "writes that failed for good").toEqual([]);
    await c.waitForHealth(victim.name, (h) => Number(h.appliedIndex) >= writer.lastIndex, 20_000);
    await pollUntil(
      () => victim.output.slice(outputBefore).includes("state restored from an installed snapshot"),
      `${victim.name} was rebuilt by InstallSnapshot`,
    );
    const all = c.nodes.map((n) => n.name);
    while ((await admin.members()).filter((m) => m.voter).length < all.length) await sleep(100);
    await expectMembers(c, all);
    await expectAllReadable(c, all, writer.acked, "disk/");
  });

  it("membership - transfer-leader under a write load: the named node leads and every acknowledged write survives", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    const all = c.nodes.map((n) => n.name);
    const writer = new Writer(writerClient(c, all), "xfer/").start();
    await writer.waitForMore(50);
    let leader = await c.waitForLeader();
    for (let round = 0; round < 2; round++) {
      const target = all.find((name) => name !== leader)!;
      const admin = c.client([leader], { requestTimeoutMs: 30_000, maxAttempts: 1 });
      expect((await admin.transferLeader(target)).leader).toBe(target);
      leader = await c.waitForLeader();
      expect(leader, `round ${round}: the named node leads`).toBe(target);
      for (const name of all) {
        const status = await c.client([name]).status();
        expect(status.leader, `leader as ${name} sees it`).toBe(target);
        expect(status.role).toBe(name === target ? "leader" : "follower");
      }
      await writer.waitForMore(50);
    }
    await writer.stop();
    expect(writer.failed, "writes that failed for good").toEqual([]);
    await expectAllReadable(c, all, writer.acked, "xfer/");
  });
});

async function pollUntil(
  condition: () => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
