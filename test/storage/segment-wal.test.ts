import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, test, vi } from "vitest";
import type { Entry } from "../../raft/types.js";
import { parseSegmentName } from "../../storage/segment-format.js";
import { SegmentWal } from "../../storage/segment-wal.js";
import type { WalWrite } from "../../storage/wal.js";
import { chain, isValidChain, plain, snapshotMeta, TempDirs, tip } from "./helpers.js";

const dirs = new TempDirs();
const open: SegmentWal[] = [];
const START = { index: 0, chk: 0 };
const CONFIG = { voters: ["n1", "n2", "n3"], outgoing: [], learners: [] };

async function openWal(dir: string, options: { sync?: boolean; segmentBytes?: number } = {}) {
  const wal = await SegmentWal.open(dir, options);
  open.push(wal);
  return wal;
}

async function closeAll(): Promise<void> {
  for (const wal of open.splice(0)) await wal.close();
}

const only = (write: Partial<WalWrite>): WalWrite => ({
  hardState: null,
  snapshot: null,
  entries: [],
  ...write,
});

/** Data of 100 bytes or so, so that a few dozen entries fill a small segment. */
function entries(prev: { index: number; chk: number }, n: number, term: number, tag = "x") {
  return chain(prev, Array<number>(n).fill(term), `${tag}-${"p".repeat(80)}`);
}

/** The file handle the WAL writes through (private), to count its calls. */
function fileOf(wal: SegmentWal) {
  const file = (wal as unknown as { file: import("node:fs/promises").FileHandle | null }).file;
  if (file === null) throw new Error("no open segment");
  return file;
}

afterEach(async () => {
  vi.restoreAllMocks();
  await closeAll();
  await dirs.removeAll();
});

describe("segment wal - group commit", () => {
  test("segment wal - one write() of many Readys is one file write and one fdatasync", async () => {
    const wal = await openWal(await dirs.make("seg"));
    await wal.load();
    await wal.write([only({ hardState: { term: 1, vote: "n1", commit: 0 } })]); // creates the segment
    const file = fileOf(wal);
    const write = vi.spyOn(file, "write");
    const datasync = vi.spyOn(file, "datasync");
    const a = chain(START, [1, 1, 1]);
    const b = chain(tip(a), [1, 1]);
    const c = chain(tip(b.slice(0, 1)), [2, 2], "c");
    await wal.write([
      only({ hardState: { term: 1, vote: "n1", commit: 0 }, entries: a }),
      only({ entries: b }),
      only({ hardState: { term: 2, vote: "n2", commit: 3 }, entries: c }),
      only({}),
    ]);
    expect(write).toHaveBeenCalledTimes(1);
    expect(datasync).toHaveBeenCalledTimes(1);
    expect(wal.writes).toBe(2);
    expect(wal.syncs).toBe(2);
    await wal.write([]);
    await wal.write([only({})]);
    expect(write).toHaveBeenCalledTimes(1);
    expect(wal.range).toEqual({ firstIndex: 1, lastIndex: 6 });
  });

  test("segment wal - sync: false writes once per group and never fdatasyncs", async () => {
    const wal = await openWal(await dirs.make("seg"), { sync: false });
    await wal.load();
    await wal.write([only({ entries: chain(START, [1]) })]);
    const datasync = vi.spyOn(fileOf(wal), "datasync");
    await wal.write([only({ entries: chain({ index: 1, chk: 0 }, [1]) })]);
    expect(datasync).not.toHaveBeenCalled();
    expect(wal.syncs).toBe(0);
  });

  test("segment wal - a failed write (ENOSPC) rejects with the error and changes nothing", async () => {
    const dir = await dirs.make("seg");
    const wal = await openWal(dir);
    await wal.load();
    const first = chain(START, [1, 1]);
    await wal.write([only({ hardState: { term: 1, vote: "n1", commit: 1 }, entries: first })]);
    const enospc = Object.assign(new Error("ENOSPC: no space left on device, write"), {
      code: "ENOSPC",
    });
    vi.spyOn(fileOf(wal), "write").mockRejectedValueOnce(enospc);
    await expect(wal.write([only({ entries: chain(tip(first), [1]) })])).rejects.toBe(enospc);
    expect(wal.range).toEqual({ firstIndex: 1, lastIndex: 2 });
    const eio = Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" });
    vi.spyOn(fileOf(wal), "datasync").mockRejectedValueOnce(eio);
    await expect(wal.write([only({ entries: chain(tip(first), [1]) })])).rejects.toBe(eio);
    expect(wal.writes).toBe(1);
    await closeAll();
    const loaded = await (await openWal(dir)).load();
    expect(isValidChain(START, loaded.entries)).toBe(true);
    expect(loaded.entries.length).toBeGreaterThanOrEqual(2);
  });
});

describe("segment wal - segments", () => {
  async function segmentFiles(dir: string): Promise<string[]> {
    return (await readdir(dir)).filter((name) => parseSegmentName(name) !== null).sort();
  }

  test("segment wal - rolls over at the target size, and names each segment by sequence and first index", async () => {
    const dir = await dirs.make("seg");
    const wal = await openWal(dir, { segmentBytes: 2048 });
    await wal.load();
    let written: Entry[] = [];
    for (let k = 0; k < 10; k++) {
      const next = entries(written.length === 0 ? START : tip(written), 5, 1);
      await wal.write([only({ hardState: { term: 1, vote: "n1", commit: k * 5 }, entries: next })]);
      written = [...written, ...next];
    }
    const names = await segmentFiles(dir);
    expect(names.length).toBeGreaterThanOrEqual(4);
    expect(names[0]).toBe("0000000000000000-0000000000000001.wal");
    expect(names.map(parseSegmentName)).toEqual(names.map((_, k) => k));
    // Every full segment stays near its target (a group is never split).
    for (const name of names.slice(0, -1))
      expect((await stat(join(dir, name))).size).toBeLessThanOrEqual(2048);
    await closeAll();
    const loaded = await (await openWal(dir, { segmentBytes: 2048 })).load();
    expect(plain(loaded.entries)).toEqual(plain(written));
    expect(loaded.hardState).toEqual({ term: 1, vote: "n1", commit: 45 });
  });

  test("segment wal - a new leader's suffix overwrites entries across a segment boundary", async () => {
    const dir = await dirs.make("seg");
    let wal = await openWal(dir, { segmentBytes: 2048 });
    await wal.load();
    let written: Entry[] = [];
    for (let k = 0; k < 8; k++) {
      const next = entries(written.length === 0 ? START : tip(written), 5, 1);
      await wal.write([only({ entries: next })]);
      written = [...written, ...next];
    }
    const before = await segmentFiles(dir);
    expect(before.length).toBeGreaterThanOrEqual(3);
    // Index 4 is in the first segment; the overwrite is appended to the last one.
    const conflict = entries(tip(written.slice(0, 3)), 3, 2, "new");
    await wal.write([only({ hardState: { term: 2, vote: "n2", commit: 3 }, entries: conflict })]);
    expect(wal.range).toEqual({ firstIndex: 1, lastIndex: 6 });
    await closeAll();
    wal = await openWal(dir, { segmentBytes: 2048 });
    const loaded = await wal.load();
    expect(plain(loaded.entries)).toEqual(plain([...written.slice(0, 3), ...conflict]));
    expect(isValidChain(START, loaded.entries)).toBe(true);
    // Appends go on after the overwrite, and a later reopen agrees.
    const more = entries(tip(conflict), 2, 2, "more");
    await wal.write([only({ entries: more })]);
    await closeAll();
    const again = await (await openWal(dir, { segmentBytes: 2048 })).load();
    expect(plain(again.entries)).toEqual(plain([...written.slice(0, 3), ...conflict, ...more]));
  });

  test("segment wal - compaction deletes whole segments below upTo, never the current one; a restart sees the same state", async () => {
    const dir = await dirs.make("seg");
    let wal = await openWal(dir, { segmentBytes: 2048 });
    await wal.load();
    expect(await wal.bootstrapConfig(CONFIG)).toEqual(CONFIG);
    let written: Entry[] = [];
    for (let k = 0; k < 12; k++) {
      const next = entries(written.length === 0 ? START : tip(written), 5, 1 + Math.floor(k / 4));
      await wal.write([
        only({ hardState: { term: next[0]!.term, vote: "n3", commit: k * 5 }, entries: next }),
      ]);
      written = [...written, ...next];
    }
    const segmentsBefore = wal.segmentPaths;
    expect(segmentsBefore.length).toBeGreaterThanOrEqual(3);
    const meta = snapshotMeta(40, written[39]!.term, written[39]!.chk, 1234);
    await wal.compact(meta, 30);
    const segmentsAfter = wal.segmentPaths;
    expect(segmentsAfter.length).toBeLessThan(segmentsBefore.length);
    expect(segmentsAfter.at(-1)).toBe(segmentsBefore.at(-1));
    expect(await segmentFiles(dir)).toEqual(segmentsAfter.map((p) => p.split("/").at(-1)));
    expect(wal.range).toEqual({ firstIndex: 31, lastIndex: 60 });
    const check = async () => {
      await closeAll();
      wal = await openWal(dir, { segmentBytes: 2048 });
      const loaded = await wal.load();
      expect(loaded.snapshot).toEqual(meta);
      expect(loaded.hardState).toEqual({ term: 3, vote: "n3", commit: 55 });
      expect(plain(loaded.entries)).toEqual(plain(written.slice(40)));
      expect(await wal.bootstrapConfig({ voters: [], outgoing: [], learners: [] })).toEqual(CONFIG);
      expect(wal.range.lastIndex).toBe(60);
    };
    await check();
    // Compacting through the last index leaves only the segment being written.
    const meta60 = snapshotMeta(60, 3, written[59]!.chk, 99);
    await wal.compact(meta60, 60);
    expect(wal.segmentPaths).toHaveLength(1);
    await closeAll();
    wal = await openWal(dir, { segmentBytes: 2048 });
    const loaded = await wal.load();
    expect(loaded.snapshot).toEqual(meta60);
    expect(loaded.entries).toEqual([]);
    expect(loaded.hardState).toEqual({ term: 3, vote: "n3", commit: 55 });
    expect(await wal.bootstrapConfig({ voters: [], outgoing: [], learners: [] })).toEqual(CONFIG);
    expect(wal.range).toEqual({ firstIndex: 61, lastIndex: 60 });
    // Appends after it chain from the snapshot.
    const after = entries({ index: 60, chk: meta60.chk }, 3, 4);
    await wal.write([only({ entries: after })]);
    await closeAll();
    const again = await (await openWal(dir, { segmentBytes: 2048 })).load();
    expect(plain(again.entries)).toEqual(plain(after));
  });

  test("segment wal - a snapshot install drops every entry, also in older segments", async () => {
    const dir = await dirs.make("seg");
    const wal = await openWal(dir, { segmentBytes: 2048 });
    await wal.load();
    const written = entries(START, 30, 1);
    for (let k = 0; k < 30; k += 5) await wal.write([only({ entries: written.slice(k, k + 5) })]);
    const meta = snapshotMeta(12, 1, written[11]!.chk, 5);
    await wal.write([only({ hardState: { term: 2, vote: null, commit: 12 }, snapshot: meta })]);
    expect(wal.range).toEqual({ firstIndex: 13, lastIndex: 12 });
    await closeAll();
    const loaded = await (await openWal(dir, { segmentBytes: 2048 })).load();
    expect(loaded.entries).toEqual([]);
    expect(loaded.snapshot).toEqual(meta);
    expect(loaded.hardState).toEqual({ term: 2, vote: null, commit: 12 });
  });

  test("segment wal - one process at a time: a second open of the dir is refused until the first closes", async () => {
    const dir = await dirs.make("seg");
    const wal = await openWal(dir);
    await wal.load();
    await expect(SegmentWal.open(dir)).rejects.toThrow(/locked by another process/);
    await closeAll();
    const again = await openWal(dir);
    expect((await again.load()).entries).toEqual([]);
  });

  test("segment wal - loaded entries hold their data in small slabs, not in the segment's buffer (a worker's clone copies the whole buffer)", async () => {
    const dir = await dirs.make("seg");
    let wal = await openWal(dir);
    await wal.load();
    const small = entries(START, 800, 1);
    // An entry above 16 KiB gets a buffer of its own.
    const written = [...small, ...chain(tip(small), [1], "b".repeat(20_000))];
    await wal.write([only({ entries: written })]);
    await closeAll();
    expect((await stat(wal.segmentPaths[0]!)).size).toBeGreaterThan(64 * 1024);
    wal = await openWal(dir);
    const loaded = await wal.load();
    expect(plain(loaded.entries)).toEqual(plain(written));
    const buffers = new Set(loaded.entries.map((e) => e.data.buffer));
    for (const buffer of buffers) expect(buffer.byteLength).toBeLessThanOrEqual(64 * 1024);
    expect(buffers.size).toBeLessThan(loaded.entries.length / 100);
  });

  test("segment wal - the file stays small when closed (the preallocation is trimmed)", async () => {
    const dir = await dirs.make("seg");
    const wal = await openWal(dir);
    await wal.load();
    await wal.write([only({ entries: chain(START, [1, 1]) })]);
    const path = wal.segmentPaths[0]!;
    expect((await stat(path)).size).toBe(64 << 20);
    await closeAll();
    const size = (await stat(path)).size;
    expect(size).toBeLessThan(1024);
    expect((await readFile(path)).length).toBe(size);
  });
});
