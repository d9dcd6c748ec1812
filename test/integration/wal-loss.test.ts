import { readdir, readFile, truncate } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { TestCluster } from "./harness.js";

/**
 * A follower whose WAL lost synced records (issue #10, storage): the leader had counted them
 * as replicated there. The follower must be repaired, and the loss visible.
 */

let cluster: TestCluster | null = null;

afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

const BLOCK = 32 * 1024;

/**
 * The offset of the last LevelDB log record (a write batch) that stores a WAL entry (key "e"
 * + 8 bytes: in the batch, tag 1, key length 9, 0x65). Fragmented records start at FIRST.
 */
function lastEntryBatch(bytes: Buffer): number {
  let offset = 0;
  let start = -1;
  let payload: Buffer[] = [];
  let found = -1;
  while (offset + 7 <= bytes.length) {
    const left = BLOCK - (offset % BLOCK);
    if (left < 7) {
      offset += left;
      continue;
    }
    const length = bytes.readUInt16LE(offset + 4);
    const type = bytes[offset + 6]!;
    if (type === 0 || offset + 7 + length > bytes.length) break;
    if (type === 1 || type === 2) {
      start = offset;
      payload = [];
    }
    payload.push(bytes.subarray(offset + 7, offset + 7 + length));
    if ((type === 1 || type === 4) && Buffer.concat(payload).includes(Buffer.from([1, 9, 0x65])))
      found = start;
    offset += 7 + length;
  }
  return found;
}

describe("WAL loss - real processes", () => {
  it("WAL loss - a follower whose WAL lost acknowledged entries is repaired, and the leader says so", async () => {
    cluster = await TestCluster.start(3, { engines: { kv: "memory" } });
    const leader = await cluster.waitForLeader();
    const follower = cluster.nodes.find((n) => n.name !== leader)!.name;
    const client = cluster.client([leader]);
    let lastIndex = 0;
    for (let k = 0; k < 300; k += 50) {
      const puts = [];
      for (let j = k; j < k + 50; j++) puts.push(client.put(`k${j}`, `v${j}`));
      for (const put of await Promise.all(puts)) lastIndex = Math.max(lastIndex, put.index);
    }
    await cluster.waitForHealth(follower, (h) => Number(h.lastIndex) >= lastIndex);
    await cluster.kill(follower);
    // Cut the WAL's LevelDB log from the start of its last batch of entries: synced, and
    // acknowledged to the leader, but gone.
    const walDir = join(cluster.node(follower).dataDir, "wal");
    const log = (await readdir(walDir))
      .filter((n) => /^\d+\.log$/.test(n))
      .sort()
      .at(-1)!;
    const bytes = await readFile(join(walDir, log));
    const cut = lastEntryBatch(bytes);
    expect(cut, "a batch of entries in the WAL's log").toBeGreaterThanOrEqual(0);
    await truncate(join(walDir, log), cut + 7);
    cluster.restart(follower);
    // No writes: heartbeats alone must reveal the loss.
    await cluster.waitForHealth(follower, (h) => Number(h.lastIndex) >= lastIndex, 20_000);
    const after = await client.put("after", "loss");
    await cluster.waitForHealth(follower, (h) => Number(h.appliedIndex) >= after.index);
    const reader = cluster.client([follower]);
    for (let k = 0; k < 300; k++)
      expect((await reader.get(`k${k}`, { consistency: "stale" })).value).toBe(`v${k}`);
    const health = await cluster.health(leader);
    expect(health?.followersLostEntries).toBeGreaterThanOrEqual(1);
    expect(cluster.node(leader).output).toContain("lost entries it had acknowledged");
  });
});
