import { cp, readdir, readFile, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ClassicLevel } from "classic-level";
import { afterEach, describe, expect, test } from "vitest";
import type { Entry } from "../../raft/types.js";
import { encodeEntry, entryKey, Wal, WalCorruptError, type WalWrite } from "../../storage/wal.js";
import { bytes, chain, isValidChain, plain, snapshotMeta, TempDirs, tip } from "./helpers.js";

const dirs = new TempDirs();
const open: { close(): Promise<void> }[] = [];

const HARD_STATE_KEY = new Uint8Array([0x68]); // "h"
const SNAPSHOT_KEY = new Uint8Array([0x6d]); // "m"
const START = { index: 0, chk: 0 };

async function openWal(dir: string): Promise<Wal> {
  const wal = await Wal.open(dir, { sync: true });
  open.push(wal);
  return wal;
}

async function closeAll(): Promise<void> {
  for (const db of open.splice(0)) await db.close();
}

/** Open the WAL's LevelDB directly (the WAL must be closed) and run `fn` on it. */
async function raw(
  dir: string,
  fn: (db: ClassicLevel<Uint8Array, Uint8Array>) => Promise<void>,
): Promise<void> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, {
    keyEncoding: "view",
    valueEncoding: "view",
  });
  await db.open();
  try {
    await fn(db);
  } finally {
    await db.close();
  }
}

const flipped = (value: Uint8Array, at: number): Uint8Array => {
  const copy = value.slice();
  copy[at]! ^= 0x5a;
  return copy;
};

const only = (write: Partial<WalWrite>): WalWrite => ({
  hardState: null,
  snapshot: null,
  entries: [],
  ...write,
});

/** n entries, one synced group commit each (with the hard state committing the one before). */
async function writeHistory(dir: string, n: number): Promise<Entry[]> {
  const entries = chain(
    START,
    Array.from({ length: n }, (_, k) => 1 + Math.floor(k / 4)),
  );
  const wal = await openWal(dir);
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

/** The newest LevelDB log file (NNNNNN.log) of a DB dir. */
async function newestLog(dir: string): Promise<string> {
  const logs = (await readdir(dir)).filter((name) => /^\d+\.log$/.test(name)).sort();
  const newest = logs.at(-1);
  if (newest === undefined) throw new Error(`no .log file in ${dir}`);
  return join(dir, newest);
}

/**
 * Physical records of a LevelDB log file: 32 KiB blocks of [crc u32][length u16][type u8][data],
 * a block's tail of fewer than 7 bytes zero-filled.
 */
function logRecords(file: Uint8Array): { start: number; end: number }[] {
  const BLOCK = 32 * 1024;
  const out: { start: number; end: number }[] = [];
  let at = 0;
  while (at + 7 <= file.length) {
    const leftInBlock = BLOCK - (at % BLOCK);
    if (leftInBlock < 7) {
      at += leftInBlock;
      continue;
    }
    const length = file[at + 4]! | (file[at + 5]! << 8);
    const type = file[at + 6]!;
    if (type === 0 && length === 0) break; // preallocated zeros
    out.push({ start: at, end: at + 7 + length });
    at += 7 + length;
  }
  return out;
}

/** Open, load, check the result is an undamaged prefix of `written`, and return it. */
async function loadPrefix(dir: string, written: readonly Entry[], label: string) {
  const wal = await openWal(dir);
  const loaded = await wal.load();
  const n = loaded.entries.length;
  // Only the damaged (last) batch may be lost, and nothing corrupt may come back.
  expect(n, label).toBeGreaterThanOrEqual(written.length - 1);
  expect(plain(loaded.entries), label).toEqual(plain(written.slice(0, n)));
  expect(isValidChain(START, loaded.entries), label).toBe(true);
  expect(loaded.hardState.commit, label).toBeLessThanOrEqual(n);
  expect(loaded.hardState.vote, label).toBe("n1");
  return { wal, loaded };
}

/** After recovery the WAL takes appends again, and they survive a reopen. */
async function appendAfterRecovery(wal: Wal, survived: readonly Entry[], label: string) {
  const next = chain(survived.length === 0 ? START : tip(survived), [9], "after");
  await wal.write([only({ hardState: { term: 9, vote: "n2", commit: 0 }, entries: next })]);
  await closeAll();
  const again = await openWal(wal.dir);
  const loaded = await again.load();
  expect(loaded.truncatedTail, label).toBe(0);
  expect(plain(loaded.entries), label).toEqual(plain([...survived, ...next]));
  await closeAll();
}

afterEach(async () => {
  await closeAll();
  await dirs.removeAll();
});

describe("wal recovery: damage to the LevelDB log file", () => {
  test("wal - cuts a torn tail: the log file truncated inside its last record", async () => {
    const pristine = await dirs.make("wal-pristine");
    const written = await writeHistory(pristine, 12);
    const file = await readFile(await newestLog(pristine));
    const records = logRecords(file);
    expect(records.length).toBeGreaterThanOrEqual(12);
    const last = records.at(-1)!;
    expect(last.end).toBe(file.length);
    const cuts = [
      last.start + 1,
      last.start + 7,
      last.start + 10,
      Math.floor((last.start + last.end) / 2),
      last.end - 1,
    ];
    for (const cut of cuts) {
      const label = `truncated at byte ${cut} (last record ${last.start}..${last.end})`;
      const dir = await dirs.make("wal-torn");
      await cp(pristine, dir, { recursive: true });
      await truncate(await newestLog(dir), cut);
      const { wal, loaded } = await loadPrefix(dir, written, label);
      await appendAfterRecovery(wal, loaded.entries, label);
    }
  });

  test("wal - cuts a torn tail: a byte flipped inside the last record of the log file", async () => {
    const pristine = await dirs.make("wal-pristine");
    const written = await writeHistory(pristine, 12);
    const file = await readFile(await newestLog(pristine));
    const last = logRecords(file).at(-1)!;
    const positions = [
      last.start, // record checksum
      last.start + 4, // record length
      last.start + 6, // record type
      last.start + 7 + 12, // first op of the batch
      Math.floor((last.start + last.end) / 2),
      last.end - 1,
    ];
    for (const at of positions) {
      const label = `byte ${at} flipped (last record ${last.start}..${last.end})`;
      const dir = await dirs.make("wal-flip");
      await cp(pristine, dir, { recursive: true });
      const path = await newestLog(dir);
      await writeFile(path, flipped(new Uint8Array(await readFile(path)), at));
      const { wal, loaded } = await loadPrefix(dir, written, label);
      await appendAfterRecovery(wal, loaded.entries, label);
    }
  });
});

describe("wal recovery: damage inside LevelDB's log", () => {
  test("wal - a record of LevelDB's log failing its checksum before intact records: refused, naming the file", async () => {
    // LevelDB (opened without paranoid checks) would drop the rest of that 32 KiB block —
    // entries, or the term and vote — and open without a word.
    const dir = await dirs.make("wal-mid");
    await writeHistory(dir, 1_000);
    const path = await newestLog(dir);
    const bytes = new Uint8Array(await readFile(path));
    expect(bytes.length).toBeGreaterThan(2 * 32 * 1024);
    await writeFile(path, flipped(bytes, 5_000));
    const error = await Wal.open(dir, { sync: true }).then(
      async (wal) => {
        await wal.close();
        return null;
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WalCorruptError);
    expect((error as Error).message).toContain(path);
  });
});

describe("wal recovery: damaged values", () => {
  test("wal - cuts a corrupt last entry, whichever byte of its record is flipped; a later load is clean", async () => {
    const dir = await dirs.make("wal");
    const written = await writeHistory(dir, 6);
    // The last hard state says commit 5; make it 6 so that the clamp shows.
    let wal = await openWal(dir);
    await wal.load();
    await wal.write([only({ hardState: { term: 2, vote: "n1", commit: 6 } })]);
    await closeAll();
    const lastKey = entryKey(6);
    const good = encodeEntry(written[5]!);
    for (let at = 0; at < good.length; at++) {
      const label = `byte ${at} of entry 6's value flipped`;
      await raw(dir, (db) => db.put(lastKey, flipped(good, at)));
      wal = await openWal(dir);
      const loaded = await wal.load();
      expect(loaded.truncatedTail, label).toBe(1);
      expect(plain(loaded.entries), label).toEqual(plain(written.slice(0, 5)));
      expect(loaded.hardState, label).toEqual({ term: 2, vote: "n1", commit: 5 });
      expect(wal.range, label).toEqual({ firstIndex: 1, lastIndex: 5 });
      const again = await wal.load();
      expect(again.truncatedTail, label).toBe(0);
      expect(plain(again.entries), label).toEqual(plain(written.slice(0, 5)));
      // Put the entry back through the WAL for the next round.
      await wal.write([only({ entries: [written[5]!] })]);
      await closeAll();
    }
    wal = await openWal(dir);
    const final = await wal.load();
    expect(final.truncatedTail).toBe(0);
    expect(plain(final.entries)).toEqual(plain(written));
  });

  test("wal - cuts a last entry whose record checksum holds but which breaks the history chain", async () => {
    const dir = await dirs.make("wal");
    const written = await writeHistory(dir, 5);
    const forged = { ...written[4]!, data: bytes("not what was written") };
    await raw(dir, (db) => db.put(entryKey(5), encodeEntry(forged)));
    const wal = await openWal(dir);
    const loaded = await wal.load();
    expect(loaded.truncatedTail).toBe(1);
    expect(plain(loaded.entries)).toEqual(plain(written.slice(0, 4)));
    expect((await wal.load()).truncatedTail).toBe(0);
  });

  test("wal - cuts a corrupt tail of several entries and clamps commit", async () => {
    const dir = await dirs.make("wal");
    const written = await writeHistory(dir, 8);
    await raw(dir, async (db) => {
      for (const index of [6, 7, 8]) {
        await db.put(entryKey(index), flipped(encodeEntry(written[index - 1]!), 20));
      }
    });
    let wal = await openWal(dir);
    const loaded = await wal.load();
    expect(loaded.truncatedTail).toBe(3);
    expect(plain(loaded.entries)).toEqual(plain(written.slice(0, 5)));
    expect(loaded.hardState.commit).toBe(5); // stored 7, clamped to the last surviving index
    await closeAll();
    wal = await openWal(dir);
    const again = await wal.load();
    expect(again.truncatedTail).toBe(0);
    expect(plain(again.entries)).toEqual(plain(written.slice(0, 5)));
  });

  test("wal - cuts a corrupt tail after a snapshot, chaining from the snapshot's checksum", async () => {
    const dir = await dirs.make("wal");
    const meta = snapshotMeta(40, 3, 0xabcdef01, 10);
    const entries = chain({ index: 40, chk: meta.chk }, [3, 3, 3]);
    let wal = await openWal(dir);
    await wal.load();
    await wal.write([
      only({ hardState: { term: 3, vote: null, commit: 43 }, snapshot: meta, entries }),
    ]);
    await closeAll();
    await raw(dir, (db) => db.put(entryKey(43), flipped(encodeEntry(entries[2]!), 0)));
    wal = await openWal(dir);
    const loaded = await wal.load();
    expect(loaded.snapshot).toEqual(meta);
    expect(loaded.truncatedTail).toBe(1);
    expect(plain(loaded.entries)).toEqual(plain(entries.slice(0, 2)));
    expect(loaded.hardState.commit).toBe(42);
  });

  test("wal - refuses a corrupt middle entry with WalCorruptError naming its index, deleting nothing", async () => {
    const dir = await dirs.make("wal");
    const written = await writeHistory(dir, 6);
    const good = encodeEntry(written[2]!);
    await raw(dir, (db) => db.put(entryKey(3), flipped(good, good.length - 1)));
    let wal = await openWal(dir);
    const error = await wal.load().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WalCorruptError);
    expect((error as WalCorruptError).message).toMatch(/\bindex 3\b/);
    expect((error as WalCorruptError).index).toBe(3);
    // Refusing must not have cut anything: repaired, the whole log is there.
    await closeAll();
    await raw(dir, (db) => db.put(entryKey(3), good));
    wal = await openWal(dir);
    const loaded = await wal.load();
    expect(loaded.truncatedTail).toBe(0);
    expect(plain(loaded.entries)).toEqual(plain(written));
  });

  test("wal - refuses a corrupt first entry when later entries are intact", async () => {
    const dir = await dirs.make("wal");
    const written = await writeHistory(dir, 4);
    await raw(dir, (db) => db.put(entryKey(1), flipped(encodeEntry(written[0]!), 5)));
    const wal = await openWal(dir);
    await expect(wal.load()).rejects.toThrow(WalCorruptError);
    await expect(wal.load()).rejects.toThrow(/index 1\b/);
  });

  test("wal - refuses a log with a missing middle entry (a hole followed by intact records)", async () => {
    const dir = await dirs.make("wal");
    await writeHistory(dir, 6);
    await raw(dir, (db) => db.del(entryKey(3)));
    const wal = await openWal(dir);
    await expect(wal.load()).rejects.toThrow(WalCorruptError);
  });

  test("wal - a corrupt or truncated hard state is refused with WalCorruptError", async () => {
    const dir = await dirs.make("wal");
    await writeHistory(dir, 3);
    let original: Uint8Array = new Uint8Array(0);
    await raw(dir, async (db) => {
      original = (await db.get(HARD_STATE_KEY))!;
      await db.put(HARD_STATE_KEY, flipped(original, 13));
    });
    let wal = await openWal(dir);
    await expect(wal.load()).rejects.toThrow(WalCorruptError);
    await expect(wal.load()).rejects.toThrow(/hard state/);
    await closeAll();
    await raw(dir, (db) => db.put(HARD_STATE_KEY, original.slice(0, 10)));
    wal = await openWal(dir);
    await expect(wal.load()).rejects.toThrow(WalCorruptError);
  });

  test("wal - corrupt snapshot metadata is refused with WalCorruptError", async () => {
    const dir = await dirs.make("wal");
    let wal = await openWal(dir);
    await wal.load();
    await wal.write([only({ snapshot: snapshotMeta(7, 2, 99, 1) })]);
    await closeAll();
    await raw(dir, async (db) => {
      const value = (await db.get(SNAPSHOT_KEY))!;
      await db.put(SNAPSHOT_KEY, flipped(value, 8));
    });
    wal = await openWal(dir);
    await expect(wal.load()).rejects.toThrow(WalCorruptError);
  });
});
