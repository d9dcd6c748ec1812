import { cp, readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { SeededRandom } from "../../raft/rand.js";
import type { Entry } from "../../raft/types.js";
import { GroupEncoder, RECORD_HEADER, scanSegment } from "../../storage/segment-format.js";
import { SegmentWal } from "../../storage/segment-wal.js";
import { WalCorruptError, type WalWrite } from "../../storage/wal.js";
import { bytes, chain, isValidChain, plain, TempDirs, tip } from "./helpers.js";

const dirs = new TempDirs();
const open: SegmentWal[] = [];
const START = { index: 0, chk: 0 };

async function openWal(dir: string, segmentBytes?: number): Promise<SegmentWal> {
  const wal = await SegmentWal.open(dir, { sync: true, segmentBytes });
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

/** n entries, one group commit each (the hard state committing the one before). */
async function writeHistory(dir: string, n: number, segmentBytes?: number): Promise<Entry[]> {
  const entries = chain(
    START,
    Array.from({ length: n }, (_, k) => 1 + Math.floor(k / 4)),
  );
  const wal = await openWal(dir, segmentBytes);
  await wal.load();
  for (const entry of entries) {
    await wal.write([
      only({
        hardState: { term: entry.term, vote: "n1", commit: entry.index - 1 },
        entries: [entry],
      }),
    ]);
  }
  await closeAll();
  return entries;
}

async function segmentPaths(dir: string): Promise<string[]> {
  return (await readdir(dir))
    .filter((n) => n.endsWith(".wal"))
    .sort()
    .map((n) => join(dir, n));
}

/** Byte ranges [start, end) of the records of a segment file. */
async function recordsOf(path: string): Promise<{ start: number; end: number }[]> {
  const file = await readFile(path);
  return scanSegment(file).records.map((start) => ({
    start,
    end: start + RECORD_HEADER + file.readUInt32LE(start),
  }));
}

/** Open, load, check the result is an undamaged prefix of `written` missing at most the last. */
async function loadPrefix(dir: string, written: readonly Entry[], label: string) {
  const wal = await openWal(dir);
  const loaded = await wal.load();
  const n = loaded.entries.length;
  expect(n, label).toBeGreaterThanOrEqual(written.length - 1);
  expect(plain(loaded.entries), label).toEqual(plain(written.slice(0, n)));
  expect(isValidChain(START, loaded.entries), label).toBe(true);
  expect(loaded.hardState.vote, label).toBe("n1");
  expect(loaded.hardState.commit, label).toBeLessThanOrEqual(n);
  return { wal, loaded };
}

/** After recovery the WAL takes appends again, and they survive a reopen with nothing cut. */
async function appendAfterRecovery(wal: SegmentWal, survived: readonly Entry[], label: string) {
  const next = chain(survived.length === 0 ? START : tip(survived), [9], "after");
  await wal.write([only({ hardState: { term: 9, vote: "n2", commit: 0 }, entries: next })]);
  await closeAll();
  const loaded = await (await openWal(wal.dir)).load();
  expect(loaded.truncatedTail, label).toBe(0);
  expect(plain(loaded.entries), label).toEqual(plain([...survived, ...next]));
  await closeAll();
}

const flip = (file: Uint8Array, at: number, mask = 0x5a) => {
  const copy = file.slice();
  copy[at]! ^= mask;
  return copy;
};

afterEach(async () => {
  await closeAll();
  await dirs.removeAll();
});

describe("segment wal recovery - torn tail", () => {
  test("segment wal - cut at every byte offset of the last group: a prefix loads, the tail is cut and appends go on", async () => {
    const pristine = await dirs.make("seg-pristine");
    const written = await writeHistory(pristine, 6);
    const [path] = await segmentPaths(pristine);
    const records = await recordsOf(path!);
    // The last group: [entry 6][hard state][commit].
    const group = records.slice(-3);
    const start = group[0]!.start;
    const end = group.at(-1)!.end;
    for (let cut = start; cut < end; cut++) {
      const label = `segment truncated at byte ${cut} (last group ${start}..${end})`;
      const dir = await dirs.make("seg-torn");
      await cp(pristine, dir, { recursive: true });
      const file = join(dir, path!.split("/").at(-1)!);
      await truncate(file, cut);
      // A crash on a preallocated file leaves zeros after what was written.
      if (cut % 2 === 0) await truncate(file, cut + 4096);
      const { wal, loaded } = await loadPrefix(dir, written, label);
      expect(loaded.entries.length, label).toBe(5);
      // The intact entry of the torn group, and the record cut short (if any bytes of it).
      const intactEntry = cut >= group[0]!.end ? 1 : 0;
      const partial = group.some((r) => r.start === cut) ? 0 : 1;
      expect(loaded.truncatedTail, label).toBe(intactEntry + partial);
      await appendAfterRecovery(wal, loaded.entries, label);
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("segment wal - a byte flipped in the last group (seeded): its commit record damaged is a torn tail, any other record a damaged middle", async () => {
    // A group whose commit record is intact was synced whole: damage before it is not a torn
    // write but the disk's, and is refused; damage to the commit record itself is a torn tail.
    const seed = Number(process.env.SEED ?? 1207);
    const random = new SeededRandom(seed);
    const pristine = await dirs.make("seg-pristine");
    const written = await writeHistory(pristine, 6);
    const [path] = await segmentPaths(pristine);
    const records = await recordsOf(path!);
    const start = records.at(-3)!.start;
    const commit = records.at(-1)!;
    const original = new Uint8Array(await readFile(path!));
    for (let round = 0; round < 40; round++) {
      const at = start + random.int(commit.end - start);
      const label = `seed ${seed}: byte ${at} flipped (last group ${start}..${commit.end}, commit at ${commit.start})`;
      const dir = await dirs.make("seg-flip");
      await cp(pristine, dir, { recursive: true });
      const file = join(dir, path!.split("/").at(-1)!);
      await writeFile(file, flip(original, at, 1 + random.int(255)));
      if (at >= commit.start) {
        const { wal, loaded } = await loadPrefix(dir, written, label);
        expect(loaded.entries.length, label).toBe(5);
        await appendAfterRecovery(wal, loaded.entries, label);
      } else {
        const error = await (await openWal(dir)).load().then(
          () => null,
          (e: unknown) => e,
        );
        expect(error, label).toBeInstanceOf(WalCorruptError);
        const damaged = records.find((r) => at >= r.start && at < r.end)!;
        expect((error as Error).message, label).toContain(`byte ${damaged.start}`);
        await closeAll();
      }
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("segment wal - a last segment whose first group never became durable is dropped", async () => {
    const dir = await dirs.make("seg");
    const written = await writeHistory(dir, 30, 1024);
    const paths = await segmentPaths(dir);
    expect(paths.length).toBeGreaterThan(1);
    const last = paths.at(-1)!;
    const lastRecords = await recordsOf(last);
    await truncate(last, lastRecords.at(-1)!.start + 3);
    const wal = await openWal(dir);
    const loaded = await wal.load();
    expect(isValidChain(START, loaded.entries)).toBe(true);
    expect(written.slice(0, loaded.entries.length).map((e) => e.index)).toEqual(
      loaded.entries.map((e) => e.index),
    );
    await appendAfterRecovery(wal, loaded.entries, "after a torn roll-over");
  });

  test("segment wal - an entry whose record checksum holds but which breaks the chain at the tail is cut, durably", async () => {
    const dir = await dirs.make("seg");
    const written = await writeHistory(dir, 5);
    // Append a forged entry 6 (a valid record of other data) as a committed group.
    const [path] = await segmentPaths(dir);
    const file = await readFile(path!);
    const end = scanSegment(file).committedEnd;
    const forged = { ...chain(tip(written), [2])[0]!, data: bytes("not what was written") };
    const group = new GroupEncoder();
    group.entry(forged);
    group.commit(end);
    await writeFile(path!, Buffer.concat([file.subarray(0, end), group.bytes()]));
    let wal = await openWal(dir);
    const loaded = await wal.load();
    expect(loaded.truncatedTail).toBe(1);
    expect(plain(loaded.entries)).toEqual(plain(written));
    await closeAll();
    wal = await openWal(dir);
    expect((await wal.load()).truncatedTail).toBe(0);
  });
});

describe("segment wal recovery - damaged middle", () => {
  test("segment wal - a bad record followed by committed groups is refused, naming the file and offset; nothing is cut", async () => {
    const dir = await dirs.make("seg");
    const written = await writeHistory(dir, 8);
    const [path] = await segmentPaths(dir);
    const original = new Uint8Array(await readFile(path!));
    const records = await recordsOf(path!);
    const target = records[records.length - 10]!; // a record of an early group
    // Its length, checksum, type, and a payload byte.
    for (const at of [target.start, target.start + 5, target.start + 8, target.end - 1]) {
      const label = `byte ${at} flipped (record ${target.start}..${target.end})`;
      await writeFile(path!, flip(original, at));
      const error = await (await openWal(dir)).load().then(
        () => null,
        (e: unknown) => e,
      );
      await closeAll();
      expect(error, label).toBeInstanceOf(WalCorruptError);
      expect((error as Error).message, label).toContain(path!);
      expect((error as Error).message, label).toContain(`byte ${target.start}`);
      // Refusing cut nothing: repaired, the whole log is there.
      await writeFile(path!, original);
      const loaded = await (await openWal(dir)).load();
      await closeAll();
      expect(plain(loaded.entries), label).toEqual(plain(written));
    }
  });

  test("segment wal - damage in an older segment is refused even at its end", async () => {
    const dir = await dirs.make("seg");
    await writeHistory(dir, 30, 1024);
    const paths = await segmentPaths(dir);
    expect(paths.length).toBeGreaterThan(2);
    const older = paths[0]!;
    const records = await recordsOf(older);
    await truncate(older, records.at(-1)!.start + 4);
    const load = (await openWal(dir)).load();
    await expect(load).rejects.toThrow(WalCorruptError);
    await expect(load).rejects.toThrow(older);
  });

  test("segment wal - a missing segment in the middle is refused", async () => {
    const dir = await dirs.make("seg");
    await writeHistory(dir, 30, 1024);
    const paths = await segmentPaths(dir);
    await rm(paths[1]!);
    await expect((await openWal(dir)).load()).rejects.toThrow(/is missing/);
  });
});
