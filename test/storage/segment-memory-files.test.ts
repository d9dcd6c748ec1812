import { describe, expect, it } from "vitest";
import { SeededRandom } from "../../raft/rand.js";
import type { Entry } from "../../raft/types.js";
import { type DiskIo, MemoryDisk } from "../../storage/memory-disk.js";
import { SegmentWal } from "../../storage/segment-wal.js";
import { chain, isValidChain, plain, snapshotMeta, tip } from "./helpers.js";

// The segment WAL on remu's disk (storage/segment-memory-files.ts): the same WAL code a node
// runs on its file system, under lost unsynced writes, torn writes and failing fsync.

const START = { index: 0, chk: 0 };
const tick = () => new Promise((resolve) => setImmediate(resolve));

/** One life of a node on `disk`: its sleeps (fsync delays) are released by `drive`. */
async function boot(disk: MemoryDisk, seed: number, segmentBytes = 512) {
  const random = new SeededRandom(seed);
  const sleeping: (() => void)[] = [];
  const io: DiskIo = {
    sleep: (ms) => new Promise((resolve) => (ms === 0 ? resolve() : sleeping.push(resolve))),
    random: () => random.float(),
  };
  const wal = await SegmentWal.open("mem", { sync: true, segmentBytes, files: disk.files(io) });
  return { wal, sleeping, random };
}

/**
 * Run `work` to its end, releasing its fsyncs one by one; before each, with `crashRate`, the
 * power fails instead (false). The test is the clock.
 */
async function drive(
  work: Promise<unknown>,
  life: { sleeping: (() => void)[] },
  disk: MemoryDisk,
  random: SeededRandom,
  crashRate: number,
): Promise<boolean> {
  let settled = false;
  let failure: unknown = null;
  work.then(
    () => (settled = true),
    (error: unknown) => (failure = error),
  );
  for (;;) {
    await tick();
    if (failure !== null) throw failure;
    if (settled) return true;
    const wake = life.sleeping.shift();
    if (wake === undefined) continue;
    if (random.float() < crashRate) {
      disk.powerLoss(() => random.float());
      return false;
    }
    wake();
  }
}

const hard = (commit: number) => ({ term: 1, vote: "n1", commit });

describe("segment wal on the memory disk", () => {
  it("segment wal on the memory disk - entries and hard state survive a clean restart and segments roll over", async () => {
    const disk = new MemoryDisk();
    const first = await boot(disk, 1);
    await first.wal.load();
    const entries = chain(START, Array<number>(40).fill(1));
    for (let k = 0; k < 40; k += 4)
      await first.wal.write([
        { hardState: hard(k), snapshot: null, entries: entries.slice(k, k + 4) },
      ]);
    expect(first.wal.segmentPaths.length).toBeGreaterThan(2);
    await first.wal.close();
    const loaded = await (await boot(disk, 2)).wal.load();
    expect(plain(loaded.entries)).toEqual(plain(entries));
    expect(loaded.hardState).toEqual(hard(36));
  });

  it("segment wal on the memory disk - a group still syncing at a power loss is lost; synced ones stay", async () => {
    const disk = new MemoryDisk();
    disk.faults = { fsyncFailRate: 0, fsyncMinMs: 5, fsyncMaxMs: 5, tornWriteRate: 0 };
    const random = new SeededRandom(7);
    const first = await boot(disk, 1);
    await drive(first.wal.load(), first, disk, random, 0);
    const entries = chain(START, [1, 1, 1, 1, 1, 1]);
    const write = (from: number, to: number) =>
      first.wal.write([{ hardState: hard(to), snapshot: null, entries: entries.slice(from, to) }]);
    expect(await drive(write(0, 3), first, disk, random, 0)).toBe(true);
    expect(await drive(write(3, 6), first, disk, random, 1)).toBe(false);
    expect(disk.stats.lostBatches).toBe(1);
    const second = await boot(disk, 2);
    let loaded: Awaited<ReturnType<SegmentWal["load"]>> | null = null;
    await drive(
      second.wal.load().then((contents) => (loaded = contents)),
      second,
      disk,
      random,
      0,
    );
    expect(loaded!.entries.map((e) => e.index)).toEqual([1, 2, 3]);
    expect(loaded!.hardState).toEqual(hard(3));
  });

  it("segment wal on the memory disk - power losses during writes, roll-overs and loads keep every acknowledged group, and groups whole (seeded)", async () => {
    let torn = 0;
    let cut = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const random = new SeededRandom(seed);
      const disk = new MemoryDisk();
      disk.faults = { fsyncFailRate: 0, fsyncMinMs: 1, fsyncMaxMs: 3, tornWriteRate: 0.7 };
      let acked: Entry[] = [];
      // The group whose sync the power loss cut: it may be kept (a torn write that lost only
      // bytes equal to those already on disk is whole), but only whole.
      let inFlight: Entry[] = [];
      for (let life = 0; life < 6; life++) {
        const node = await boot(disk, seed * 100 + life, 256 + random.int(1024));
        let loaded: Entry[] | null = null;
        const load = node.wal.load().then((contents) => {
          loaded = contents.entries;
          cut += contents.truncatedTail;
        });
        if (!(await drive(load, node, disk, random, 0.1))) continue;
        const kept = loaded!.length === acked.length ? acked : [...acked, ...inFlight];
        expect(plain(loaded!), `seed ${seed} life ${life}`).toEqual(plain(kept));
        acked = kept;
        inFlight = [];
        for (let group = 0; group < 8; group++) {
          const next = chain(
            acked.length === 0 ? START : tip(acked),
            [1, 1, 1, 1].slice(random.int(4)),
          );
          const write = node.wal.write([
            { hardState: hard(acked.length), snapshot: null, entries: next },
          ]);
          if (!(await drive(write, node, disk, random, 0.08))) {
            inFlight = next;
            break;
          }
          acked = [...acked, ...next];
        }
      }
      torn += disk.stats.tornBatches;
      expect(isValidChain(START, acked), `seed ${seed}`).toBe(true);
    }
    // The faults were met: some groups were torn, and some loads had to cut a torn tail.
    expect(torn).toBeGreaterThan(0);
    expect(cut).toBeGreaterThan(0);
  });

  it("segment wal on the memory disk - segments deleted by compaction may come back after a power loss (their unlinks unsynced); the log loads the same (seeded)", async () => {
    let reappeared = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const random = new SeededRandom(seed);
      const disk = new MemoryDisk();
      const first = await boot(disk, seed);
      await first.wal.load();
      const entries = chain(START, Array<number>(40).fill(1));
      for (let k = 0; k < 40; k += 4)
        await first.wal.write([
          { hardState: hard(k), snapshot: null, entries: entries.slice(k, k + 4) },
        ]);
      const before = first.wal.segmentPaths.length;
      const meta = snapshotMeta(30, 1, entries[29]!.chk);
      await first.wal.compact(meta, 30);
      const after = first.wal.segmentPaths.length;
      expect(after, `seed ${seed}`).toBeLessThan(before);
      disk.powerLoss(() => random.float());
      const second = await boot(disk, seed + 100);
      const loaded = await second.wal.load();
      reappeared += second.wal.segmentPaths.length - after;
      expect(loaded.snapshot, `seed ${seed}`).toEqual(meta);
      expect(plain(loaded.entries), `seed ${seed}`).toEqual(plain(entries.slice(30)));
    }
    expect(reappeared).toBeGreaterThan(0);
  });

  it("segment wal on the memory disk - with sync off, a power loss loses a suffix of the log, never a middle (the segment rolled over from is synced first)", async () => {
    for (let seed = 1; seed <= 10; seed++) {
      const random = new SeededRandom(seed);
      const disk = new MemoryDisk();
      const io: DiskIo = { sleep: async () => {}, random: () => random.float() };
      const wal = await SegmentWal.open("mem", {
        sync: false,
        segmentBytes: 512,
        files: disk.files(io),
      });
      await wal.load();
      const entries = chain(START, Array<number>(30).fill(1));
      for (let k = 0; k < 30; k += 3)
        await wal.write([{ hardState: hard(k), snapshot: null, entries: entries.slice(k, k + 3) }]);
      expect(wal.segmentPaths.length, `seed ${seed}`).toBeGreaterThan(2);
      disk.powerLoss(() => random.float());
      const loaded = await (await boot(disk, seed)).wal.load();
      expect(plain(loaded.entries), `seed ${seed}`).toEqual(
        plain(entries.slice(0, loaded.entries.length)),
      );
    }
  });

  it("segment wal on the memory disk - a failed fsync (EIO) rejects the write; the log loads after restart", async () => {
    const disk = new MemoryDisk();
    const random = new SeededRandom(3);
    const first = await boot(disk, 1);
    await first.wal.load();
    const entries = chain(START, [1, 1, 1, 1]);
    await first.wal.write([{ hardState: hard(2), snapshot: null, entries: entries.slice(0, 2) }]);
    disk.faults = { fsyncFailRate: 1, fsyncMinMs: 0, fsyncMaxMs: 0, tornWriteRate: 0 };
    await expect(
      first.wal.write([{ hardState: hard(4), snapshot: null, entries: entries.slice(2) }]),
    ).rejects.toThrow(/EIO/);
    expect(disk.stats.failedSyncs).toBe(1);
    disk.powerLoss(() => random.float());
    disk.faults = { fsyncFailRate: 0, fsyncMinMs: 0, fsyncMaxMs: 0, tornWriteRate: 0 };
    const loaded = await (await boot(disk, 2)).wal.load();
    expect(loaded.entries.map((e) => e.index)).toEqual([1, 2]);
  });
});
