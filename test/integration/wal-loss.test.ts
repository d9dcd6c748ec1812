import { readdir, readFile, truncate } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { TestCluster } from "./harness.js";
import { segmentFiles, segmentGroups } from "./segment-files.js";

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
 * The offset of the LevelDB log record (a write batch) that stores WAL entry `index` (in the
 * batch: tag 1, key length 9, "e" + index as u64 BE). A fragmented record starts at FIRST.
 */
function batchHolding(bytes: Buffer, index: number): number {
  const key = Buffer.alloc(11);
  key[0] = 1;
  key[1] = 9;
  key[2] = 0x65;
  key.writeBigUInt64BE(BigInt(index), 3);
  let offset = 0;
  let start = -1;
  let payload: Buffer[] = [];
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
    if ((type === 1 || type === 4) && Buffer.concat(payload).includes(key)) return start;
    offset += 7 + length;
  }
  return -1;
}

describe("WAL loss - real processes", () => {
  it.each([
    ["memory", 1, "level"],
    ["level", 1, "level"],
    // The engine applied entries the WAL then lost: it is rebuilt from the snapshot.
    ["level", 100, "level"],
    ["memory", 1, "segments"],
    ["level", 100, "segments"],
  ])(
    "WAL loss - a follower whose WAL lost acknowledged entries is repaired, and the leader says so (%s engine, the last %i entries lost, %s WAL)",
    async (engine, lost, walEngine) => {
      cluster = await TestCluster.start(3, { engines: { kv: engine }, wal: { engine: walEngine } });
      const leader = await cluster.waitForLeader();
      const follower = cluster.nodes.find((n) => n.name !== leader)!.name;
      const client = cluster.client([leader]);
      let lastIndex = 0;
      for (let k = 0; k < 300; k += 50) {
        const puts = [];
        for (let j = k; j < k + 50; j++) puts.push(client.put(`k${j}`, `v${j}`));
        for (const put of await Promise.all(puts)) lastIndex = Math.max(lastIndex, put.index);
      }
      await cluster.waitForHealth(follower, (h) => Number(h.appliedIndex) >= lastIndex);
      await cluster.kill(follower);
      await cutWal(cluster.node(follower).dataDir, walEngine, lastIndex - lost + 1);
      cluster.restart(follower);
      // No writes: heartbeats alone must reveal the loss.
      await cluster.waitForHealth(follower, (h) => Number(h.lastIndex) >= lastIndex, 20_000);
      const after = await client.put("after", "loss");
      await cluster.waitForHealth(follower, (h) => Number(h.appliedIndex) >= after.index);
      const reader = cluster.client([follower]);
      for (let k = 0; k < 300; k++)
        expect((await reader.get(`k${k}`, { consistency: "stale" })).value).toBe(`v${k}`);
      if (engine === "level") {
        // Its engine had applied what the WAL lost: rolled back, it applies them again.
        expect(cluster.node(follower).output).toContain(
          "engine had applied entries beyond the WAL",
        );
      }
      const health = await cluster.health(leader);
      expect(health?.followersLostEntries).toBeGreaterThanOrEqual(1);
      expect(cluster.node(leader).output).toContain("lost entries it had acknowledged");
    },
  );
});

/**
 * Cut the WAL from the write holding entry `index`: synced, acknowledged to the leader (and
 * applied here), but gone. LevelDB: its log from that batch on; segments: from that group on.
 */
async function cutWal(dataDir: string, walEngine: string, index: number): Promise<void> {
  if (walEngine === "segments") {
    const last = (await segmentFiles(dataDir)).at(-1)!;
    const group = (await segmentGroups(last)).find((g) => g.indices.includes(index));
    expect(group, "a group of entries in the last segment").toBeDefined();
    await truncate(last, group!.start);
    return;
  }
  const walDir = join(dataDir, "wal");
  const log = (await readdir(walDir))
    .filter((n) => /^\d+\.log$/.test(n))
    .sort()
    .at(-1)!;
  const bytes = await readFile(join(walDir, log));
  const cut = batchHolding(bytes, index);
  expect(cut, "a batch of entries in the WAL's log").toBeGreaterThanOrEqual(0);
  await truncate(join(walDir, log), cut + 7);
}
