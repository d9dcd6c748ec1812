import { createHash } from "node:crypto";
import { readdir, readFile, stat, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { TestCluster } from "./harness.js";
import { segmentFiles, segmentGroups } from "./segment-files.js";

/**
 * Damage to a follower's files while it is down (issue #10, storage): the node must never
 * serve a value that was not written, nor stay silently behind.
 */

let cluster: TestCluster | null = null;

afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

const KEYS = 800;
const keyOf = (k: number) => `key-${String(k).padStart(4, "0")}`;
/** Values unlike each other, so that a stretch of one is found verbatim in a table file. */
const valueFor = (k: number) =>
  `${keyOf(k)}=${createHash("sha256").update(String(k)).digest("hex")}`;

/** Start 3 nodes, write KEYS keys, wait until `follower` applied them all; return its name. */
async function writeAll(c: TestCluster): Promise<{ follower: string; lastIndex: number }> {
  const leader = await c.waitForLeader();
  const follower = c.nodes.find((n) => n.name !== leader)!.name;
  const client = c.client([leader]);
  let lastIndex = 0;
  for (let k = 0; k < KEYS; k += 50) {
    const puts = [];
    for (let j = k; j < Math.min(KEYS, k + 50); j++) puts.push(client.put(keyOf(j), valueFor(j)));
    for (const put of await Promise.all(puts)) lastIndex = Math.max(lastIndex, put.index);
  }
  await c.waitForHealth(follower, (h) => Number(h.appliedIndex) >= lastIndex);
  return { follower, lastIndex };
}

/** Every key as `name` serves it by itself (stale reads), once it applied `lastIndex`. */
async function servedBy(c: TestCluster, name: string, lastIndex: number): Promise<string[]> {
  await c.waitForHealth(name, (h) => Number(h.appliedIndex) >= lastIndex, 30_000);
  const reader = c.client([name]);
  const wrong: string[] = [];
  for (let k = 0; k < KEYS; k += 50) {
    const keys = Array.from({ length: Math.min(50, KEYS - k) }, (_, j) => k + j);
    const answers = await Promise.all(
      keys.map((j) => reader.get(keyOf(j), { consistency: "stale" })),
    );
    answers.forEach((answer, j) => {
      const k2 = keys[j]!;
      if (answer.value !== valueFor(k2))
        wrong.push(`${keyOf(k2)}: ${JSON.stringify(answer.value)}`);
    });
  }
  return wrong;
}

async function filesOf(dir: string, pattern: RegExp): Promise<string[]> {
  const names = (await readdir(dir)).filter((name) => pattern.test(name)).sort();
  const sized = [];
  for (const name of names)
    sized.push({ path: join(dir, name), size: (await stat(join(dir, name))).size });
  return sized.filter((f) => f.size > 0).map((f) => f.path);
}

async function xorByte(path: string, at: number): Promise<void> {
  const bytes = await readFile(path);
  bytes[at]! ^= 0x80;
  await writeFile(path, bytes);
}

describe("storage damage - real processes", () => {
  it("storage damage - a byte flipped in the KV engine's LevelDB log: every acknowledged key is still served, intact", async () => {
    cluster = await TestCluster.start(3);
    const { follower, lastIndex } = await writeAll(cluster);
    await cluster.kill(follower);
    const kvDir = join(cluster.node(follower).dataDir, "kv");
    const log = (await filesOf(kvDir, /^\d+\.log$/)).at(-1)!;
    const size = (await stat(log)).size;
    // Past the first 32 KiB block: LevelDB drops the rest of the damaged block only, and
    // records after it (holding a later applied index) survive.
    expect(size, "the keys are still in the engine's log").toBeGreaterThan(2 * 32 * 1024);
    await xorByte(log, 16_000);
    cluster.restart(follower);
    expect(await servedBy(cluster, follower, lastIndex)).toEqual([]);
    expect(cluster.node(follower).output).toContain("rebuilt from the snapshot and the WAL");
  });

  it("storage damage - a byte flipped in a value in a KV engine's table file: never served, the engine rebuilt", async () => {
    cluster = await TestCluster.start(3);
    const { follower, lastIndex } = await writeAll(cluster);
    // A restart turns the engine's log into a table file (.ldb).
    await cluster.kill(follower);
    cluster.restart(follower);
    await cluster.waitForHealth(follower, (h) => Number(h.appliedIndex) >= lastIndex);
    await cluster.kill(follower);
    const kvDir = join(cluster.node(follower).dataDir, "kv");
    let flipped = false;
    for (const table of await filesOf(kvDir, /^\d+\.ldb$/)) {
      const bytes = await readFile(table);
      for (let k = KEYS - 1; k >= 0 && !flipped; k--) {
        const at = bytes.indexOf(Buffer.from(valueFor(k).slice(-12)));
        if (at < 0) continue;
        await xorByte(table, at + 6);
        flipped = true;
      }
      if (flipped) break;
    }
    expect(flipped, "a value found verbatim in a table file").toBe(true);
    // Found at start (every record is read once): rebuilt from the snapshot and the log.
    cluster.restart(follower);
    expect(await servedBy(cluster, follower, lastIndex)).toEqual([]);
    expect(cluster.node(follower).output).toContain("fails its checksum");
    expect(cluster.node(follower).output).toContain("rebuilt from the snapshot and the WAL");
  });
});

describe("storage damage - the WAL's segment files, real processes", () => {
  it("storage damage - a byte flipped in the middle of a WAL segment: the node refuses to start, naming the file and the offset", async () => {
    cluster = await TestCluster.start(3);
    const { follower } = await writeAll(cluster);
    await cluster.kill(follower);
    const segment = (await segmentFiles(cluster.node(follower).dataDir)).at(-1)!;
    const groups = await segmentGroups(segment);
    expect(groups.length, "many groups in the segment").toBeGreaterThan(10);
    // A payload byte of the first record of a group in the middle: later groups are intact.
    const group = groups[Math.floor(groups.length / 2)]!;
    await xorByte(segment, group.start + 12);
    cluster.restart(follower);
    expect(await cluster.node(follower).exited).toBe(1);
    const output = cluster.node(follower).output;
    expect(output).toContain(`the WAL segment ${segment} is damaged at byte ${group.start}`);
    expect(output).toContain("refusing to start");
  });

  it("storage damage - a WAL segment torn inside its last group: the node starts, cuts it and catches up", async () => {
    cluster = await TestCluster.start(3);
    const { follower, lastIndex } = await writeAll(cluster);
    await cluster.kill(follower);
    const segment = (await segmentFiles(cluster.node(follower).dataDir)).at(-1)!;
    const last = (await segmentGroups(segment)).at(-1)!;
    await truncate(segment, Math.floor((last.start + last.end) / 2));
    cluster.restart(follower);
    expect(await servedBy(cluster, follower, lastIndex)).toEqual([]);
    expect(cluster.node(follower).output).toContain("cut a torn WAL tail");
  });
});
