import { describe, expect, it } from "vitest";
import { chainChecksum } from "../../raft/checksum.js";
import { SeededRandom } from "../../raft/rand.js";
import { type Entry, EntryType } from "../../raft/types.js";
import { type DiskIo, MemoryDisk } from "../../storage/memory-disk.js";
import { entryKey, Wal, WalCorruptError } from "../../storage/wal.js";

// The WAL over remu's in-memory disk: each fault the disk injects is met by the same WAL code
// a node runs on LevelDB (cut a torn tail, refuse a corrupt middle, fail a write loudly).

function chain(from: number, count: number, term = 1, previousChk = 0): Entry[] {
  const out: Entry[] = [];
  let chk = previousChk;
  for (let index = from; index < from + count; index++) {
    const data = new TextEncoder().encode(`value-${index}`);
    chk = chainChecksum(chk, term, index, EntryType.normal, data);
    out.push({ index, term, type: EntryType.normal, data, chk });
  }
  return out;
}

/** A life of a node: its sleeps are resolved by hand (the test is the clock). */
function life(seed: number) {
  const random = new SeededRandom(seed);
  const sleeping: (() => void)[] = [];
  const io: DiskIo = {
    sleep: (ms) => new Promise((resolve) => (ms === 0 ? resolve() : sleeping.push(resolve))),
    random: () => random.float(),
  };
  return { io, sleeping, random };
}

async function open(disk: MemoryDisk, seed = 1) {
  const l = life(seed);
  return { wal: new Wal("mem", disk.open(l.io), true), ...l };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));
const hard = (commit: number) => ({ term: 1, vote: "n1", commit });

describe("memory disk under the WAL", () => {
  it("memory disk - a synced write survives a power loss; one still syncing (slow fsync) is lost", async () => {
    const disk = new MemoryDisk();
    disk.faults = { fsyncFailRate: 0, fsyncMinMs: 5, fsyncMaxMs: 5, tornWriteRate: 0 };
    const first = await open(disk);
    const entries = chain(1, 6);
    const done = first.wal.write([
      { hardState: hard(3), snapshot: null, entries: entries.slice(0, 3) },
    ]);
    await tick();
    first.sleeping.shift()!();
    await done;
    let acked = false;
    void first.wal
      .write([{ hardState: hard(3), snapshot: null, entries: entries.slice(3) }])
      .then(() => {
        acked = true;
      });
    await tick();
    disk.powerLoss(() => 0.5);
    expect(acked).toBe(false);
    expect(disk.stats.lostBatches).toBe(1);
    const second = await open(disk, 2);
    const contents = await second.wal.load();
    expect(contents.entries.map((e) => e.index)).toEqual([1, 2, 3]);
    // The dead life's view no longer answers: its pending write can never be acknowledged.
    await tick();
    first.sleeping.shift()?.();
    await tick();
    expect(acked).toBe(false);
  });

  it("memory disk - a torn write at a power loss is cut at load as a torn tail", async () => {
    let torn = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const disk = new MemoryDisk();
      disk.faults = { fsyncFailRate: 0, fsyncMinMs: 1, fsyncMaxMs: 1, tornWriteRate: 1 };
      const first = await open(disk, seed);
      const entries = chain(1, 8);
      const done = first.wal.write([
        { hardState: null, snapshot: null, entries: entries.slice(0, 4) },
      ]);
      await tick();
      first.sleeping.shift()!();
      await done;
      void first.wal.write([{ hardState: hard(8), snapshot: null, entries: entries.slice(4) }]);
      await tick();
      disk.powerLoss(() => first.random.float());
      disk.faults = { ...disk.faults, fsyncMinMs: 0, fsyncMaxMs: 0 };
      expect(disk.stats.tornBatches, `seed ${seed}`).toBe(1);
      const contents = await (await open(disk, seed + 100)).wal.load();
      const kept = contents.entries.map((e) => e.index);
      // A prefix of the torn batch may survive, never a damaged or unlinked entry.
      expect(kept.slice(0, 4), `seed ${seed}`).toEqual([1, 2, 3, 4]);
      torn += contents.truncatedTail;
      expect(kept, `seed ${seed}`).toEqual(kept.map((_, k) => k + 1));
    }
    // Some seeds left a cut record that the load had to find and cut.
    expect(torn).toBeGreaterThan(0);
  });

  it("memory disk - a flipped byte in the middle of the log refuses the load; at the tail it is cut", async () => {
    const disk = new MemoryDisk();
    const { wal } = await open(disk);
    await wal.write([{ hardState: hard(5), snapshot: null, entries: chain(1, 5) }]);
    expect(disk.corrupt(entryKey(5), 9)).toBe(true);
    const tail = await (await open(disk)).wal.load();
    expect(tail.truncatedTail).toBe(1);
    expect(tail.entries.map((e) => e.index)).toEqual([1, 2, 3, 4]);
    expect(disk.corrupt(entryKey(2), 9)).toBe(true);
    await expect((await open(disk)).wal.load()).rejects.toBeInstanceOf(WalCorruptError);
    expect(disk.stats.corrupted).toBe(2);
  });

  it("memory disk - a failing fsync rejects the write (the node must stop) and is not on the platter", async () => {
    const disk = new MemoryDisk();
    disk.faults = { fsyncFailRate: 1, fsyncMinMs: 0, fsyncMaxMs: 0, tornWriteRate: 0 };
    const { wal } = await open(disk);
    await expect(
      wal.write([{ hardState: hard(2), snapshot: null, entries: chain(1, 2) }]),
    ).rejects.toThrow(/EIO/);
    expect(disk.stats.failedSyncs).toBe(1);
    disk.powerLoss(() => 0.9);
    disk.faults = { fsyncFailRate: 0, fsyncMinMs: 0, fsyncMaxMs: 0, tornWriteRate: 0 };
    expect((await (await open(disk)).wal.load()).entries).toEqual([]);
  });

  it("memory disk - the WAL refuses a write that leaves a gap (it would read back as a torn tail)", async () => {
    const { wal } = await open(new MemoryDisk());
    await wal.write([{ hardState: hard(2), snapshot: null, entries: chain(1, 2) }]);
    const gap = chain(1, 5).slice(3);
    await expect(wal.write([{ hardState: null, snapshot: null, entries: gap }])).rejects.toThrow(
      /do not follow the stored range \[1, 2\]/,
    );
    const holes = [...chain(1, 6).slice(2, 3), ...chain(1, 6).slice(4, 5)];
    await expect(wal.write([{ hardState: null, snapshot: null, entries: holes }])).rejects.toThrow(
      /not contiguous/,
    );
  });
});
