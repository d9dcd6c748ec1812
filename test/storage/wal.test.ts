import { ClassicLevel } from "classic-level";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { RaftLog } from "../../raft/log.js";
import { EntryType } from "../../raft/types.js";
import { SegmentWal } from "../../storage/segment-wal.js";
import { entryKey, Wal, type WalWrite } from "../../storage/wal.js";
import { bytes, chain, isValidChain, plain, snapshotMeta, TempDirs, tip } from "./helpers.js";

const dirs = new TempDirs();

/** The LogStore contract, as both WAL engines keep it. */
type AnyWal = Wal | SegmentWal;
const engines = [
  {
    engine: "level",
    open: (dir: string, sync: boolean): Promise<AnyWal> => Wal.open(dir, { sync }),
  },
  {
    engine: "segments",
    open: (dir: string, sync: boolean): Promise<AnyWal> => SegmentWal.open(dir, { sync }),
  },
] as const;
let engine: (typeof engines)[number] = engines[0];
const open: AnyWal[] = [];

async function openWal(dir: string, sync = true): Promise<AnyWal> {
  const wal = await engine.open(dir, sync);
  open.push(wal);
  return wal;
}

async function closeWal(wal: AnyWal): Promise<void> {
  open.splice(open.indexOf(wal), 1);
  await wal.close();
}

/** Close and reopen, as after a restart; returns the new WAL and what it loads. */
async function reopen(wal: AnyWal) {
  await closeWal(wal);
  const next = await openWal(wal.dir);
  return { wal: next, loaded: await next.load() };
}

/**
 * The entry indices stored in the LevelDB WAL (including those a snapshot made redundant);
 * the segment WAL drops entries only with whole segments (test/storage/segment-wal.test.ts).
 */
async function storedIndices(dir: string, expected: number[]): Promise<void> {
  if (engine.engine !== "level") return;
  expect(await levelIndices(dir)).toEqual(expected);
}

async function levelIndices(dir: string): Promise<number[]> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, {
    keyEncoding: "view",
    valueEncoding: "view",
  });
  await db.open();
  try {
    const out: number[] = [];
    for await (const key of db.keys({ gte: entryKey(0), lte: entryKey(2 ** 40) })) {
      out.push(Number(new DataView(key.buffer, key.byteOffset).getBigUint64(1)));
    }
    return out;
  } finally {
    await db.close();
  }
}

const only = (write: Partial<WalWrite>): WalWrite => ({
  hardState: null,
  snapshot: null,
  entries: [],
  ...write,
});

afterEach(async () => {
  for (const wal of open.splice(0)) await wal.close();
  await dirs.removeAll();
});

describe.each(engines)("wal ($engine)", (current) => {
  beforeEach(() => {
    engine = current;
  });

  test("wal - an empty WAL loads the initial state", async () => {
    const wal = await openWal(await dirs.make("wal"));
    expect(await wal.load()).toEqual({
      hardState: { term: 0, vote: null, commit: 0 },
      snapshot: null,
      entries: [],
      truncatedTail: 0,
      storedCommit: 0,
    });
    expect(wal.range).toEqual({ firstIndex: 1, lastIndex: 0 });
  });

  test("wal - round trip: batches, a conflicting suffix, hard states, a snapshot install and compaction survive reopen", async () => {
    const dir = await dirs.make("wal");
    let wal = await openWal(dir);
    await wal.load();

    // Entries built by the leader's log, so chk is computed by the production code path.
    const leader = new RaftLog();
    const first = [1, 1, 1, 1, 1, 1].map((term, k) =>
      leader.appendNew(term, k === 0 ? EntryType.config : EntryType.normal, bytes(`a${k}`)),
    );
    await wal.write([
      only({ hardState: { term: 1, vote: "n1", commit: 0 }, entries: first.slice(0, 3) }),
    ]);
    await wal.write([
      only({ hardState: { term: 1, vote: "n1", commit: 2 }, entries: first.slice(3) }),
    ]);
    let loaded: Awaited<ReturnType<AnyWal["load"]>>;
    ({ wal, loaded } = await reopen(wal));
    expect(loaded.hardState).toEqual({ term: 1, vote: "n1", commit: 2 });
    expect(loaded.snapshot).toBeNull();
    expect(loaded.truncatedTail).toBe(0);
    expect(plain(loaded.entries)).toEqual(plain(first));

    // A new leader at term 2 conflicts at index 4 and sends a single entry: 5 and 6 must go.
    const conflict = chain(tip(first.slice(0, 3)), [2], "b");
    await wal.write([only({ hardState: { term: 2, vote: null, commit: 3 }, entries: conflict })]);
    ({ wal, loaded } = await reopen(wal));
    expect(loaded.hardState).toEqual({ term: 2, vote: null, commit: 3 });
    expect(plain(loaded.entries)).toEqual(plain([...first.slice(0, 3), ...conflict]));
    expect(wal.range).toEqual({ firstIndex: 1, lastIndex: 4 });

    const more = chain(tip(conflict), [2, 2, 3], "b");
    // An empty-string vote is a vote, distinct from null.
    await wal.write([only({ hardState: { term: 3, vote: "", commit: 6 }, entries: more })]);
    ({ wal, loaded } = await reopen(wal));
    const history = [...first.slice(0, 3), ...conflict, ...more];
    expect(loaded.hardState).toEqual({ term: 3, vote: "", commit: 6 });
    expect(plain(loaded.entries)).toEqual(plain(history));
    expect(isValidChain({ index: 0, chk: 0 }, loaded.entries)).toBe(true);

    // A snapshot from the leader (beyond our log) drops every entry.
    const meta20 = snapshotMeta(20, 4, 0xdeadbeef, 123);
    await wal.write([
      only({ hardState: { term: 4, vote: "n2", commit: 20 }, snapshot: meta20, entries: [] }),
    ]);
    ({ wal, loaded } = await reopen(wal));
    expect(loaded).toEqual({
      hardState: { term: 4, vote: "n2", commit: 20 },
      snapshot: meta20,
      entries: [],
      truncatedTail: 0,
      storedCommit: 20,
    });
    expect(wal.range).toEqual({ firstIndex: 21, lastIndex: 20 });
    await closeWal(wal);
    await storedIndices(dir, []);
    wal = await openWal(dir);
    await wal.load();

    // Entries after the snapshot, then a local compaction that keeps 23.. for laggards.
    const after = chain({ index: 20, chk: meta20.chk }, [4, 4, 4, 4, 5]);
    await wal.write([only({ hardState: { term: 5, vote: "n2", commit: 25 }, entries: after })]);
    const meta23 = snapshotMeta(23, 4, after[2]!.chk, 77);
    await wal.compact(meta23, 22);
    ({ wal, loaded } = await reopen(wal));
    expect(loaded.snapshot).toEqual(meta23);
    expect(loaded.hardState).toEqual({ term: 5, vote: "n2", commit: 25 });
    expect(plain(loaded.entries)).toEqual(plain(after.slice(3)));
    expect(wal.range).toEqual({ firstIndex: 23, lastIndex: 25 });
    await closeWal(wal);
    await storedIndices(dir, [23, 24, 25]);

    // Compacting through the snapshot index drops the retained entries too; appends go on.
    wal = await openWal(dir);
    await wal.load();
    const meta24 = snapshotMeta(24, 4, after[3]!.chk, 80);
    await wal.compact(meta24, 24);
    const last = chain(tip(after), [5], "c");
    await wal.write([only({ entries: last })]);
    ({ wal, loaded } = await reopen(wal));
    expect(loaded.snapshot).toEqual(meta24);
    expect(plain(loaded.entries)).toEqual(plain([after[4]!, ...last]));
    expect(loaded.hardState.commit).toBe(25);
    await closeWal(wal);
    await storedIndices(dir, [25, 26]);
  });

  test("wal - a snapshot install below the last index still drops every entry", async () => {
    const dir = await dirs.make("wal");
    let wal = await openWal(dir);
    await wal.load();
    const entries = chain({ index: 0, chk: 0 }, [1, 1, 1, 1, 1, 1, 1, 1]);
    await wal.write([only({ hardState: { term: 1, vote: "n1", commit: 8 }, entries })]);
    let loaded: Awaited<ReturnType<AnyWal["load"]>>;
    ({ wal, loaded } = await reopen(wal));
    expect(loaded.entries).toHaveLength(8);
    const meta = snapshotMeta(5, 1, entries[4]!.chk, 9);
    await wal.write([only({ snapshot: meta })]);
    ({ wal, loaded } = await reopen(wal));
    expect(loaded.snapshot).toEqual(meta);
    expect(loaded.entries).toEqual([]);
    // The stored commit (8) is clamped to what survives: the snapshot at 5.
    expect(loaded.hardState).toEqual({ term: 1, vote: "n1", commit: 5 });
    await closeWal(wal);
    await storedIndices(dir, []);
  });

  test("wal - the group's state survives reopen exactly (last hard state of the group wins)", async () => {
    const dir = await dirs.make("wal");
    const wal = await openWal(dir);
    await wal.load();
    const a = chain({ index: 0, chk: 0 }, [1, 1, 1]);
    const b = chain(tip(a), [1, 1]);
    const c = chain(tip(b.slice(0, 1)), [2, 2], "c");
    await wal.write([
      only({ hardState: { term: 1, vote: "n1", commit: 0 }, entries: a }),
      only({ entries: b }),
      only({ hardState: { term: 2, vote: "n2", commit: 3 }, entries: c }),
      only({}),
    ]);
    const { loaded } = await reopen(wal);
    expect(loaded.hardState).toEqual({ term: 2, vote: "n2", commit: 3 });
    expect(plain(loaded.entries)).toEqual(plain([...a, b[0]!, ...c]));
  });

  test("wal - sync: false still writes one batch per group but counts no sync", async () => {
    const dir = await dirs.make("wal");
    const wal = await openWal(dir, false);
    await wal.load();
    const entries = chain({ index: 0, chk: 0 }, [1, 1]);
    await wal.write([only({ entries: entries.slice(0, 1) }), only({ entries: entries.slice(1) })]);
    expect(wal.writes).toBe(1);
    expect(wal.syncs).toBe(0);
    const { loaded } = await reopen(wal);
    expect(plain(loaded.entries)).toEqual(plain(entries));
  });
});

describe("wal (level)", () => {
  beforeEach(() => {
    engine = engines[0];
  });

  test("wal - group commit: one write() of many Readys is one synced LevelDB batch", async () => {
    const dir = await dirs.make("wal");
    let wal = await openWal(dir);
    await wal.load();
    // The WAL's LevelDB handle is private; reach it to count batches.
    const db = (wal as unknown as { db: ClassicLevel<Uint8Array, Uint8Array> }).db;
    const batch = vi.spyOn(db, "batch");
    const put = vi.spyOn(db, "put");

    const a = chain({ index: 0, chk: 0 }, [1, 1, 1]);
    const b = chain(tip(a), [1, 1]);
    // A conflict inside the same group: index 5 is overwritten by a term-2 entry, then 6.
    const c = chain(tip(b.slice(0, 1)), [2, 2], "c");
    await wal.write([
      only({ hardState: { term: 1, vote: "n1", commit: 0 }, entries: a }),
      only({ entries: b }),
      only({ hardState: { term: 2, vote: "n2", commit: 3 }, entries: c }),
      only({}),
    ]);
    expect(wal.writes).toBe(1);
    expect(wal.syncs).toBe(1);
    expect(batch).toHaveBeenCalledTimes(1);
    expect(put).not.toHaveBeenCalled();
    expect((batch.mock.calls[0] as unknown[])[1]).toEqual({ sync: true });

    // An empty group writes nothing.
    await wal.write([]);
    await wal.write([only({})]);
    expect(wal.writes).toBe(1);
    expect(batch).toHaveBeenCalledTimes(1);

    // A group holding a snapshot install between appends.
    const meta = snapshotMeta(10, 3, 0x1234, 5);
    const d = chain({ index: 10, chk: meta.chk }, [3, 3]);
    await wal.write([
      only({ entries: chain(tip(c), [2], "c") }),
      only({ hardState: { term: 3, vote: null, commit: 10 }, snapshot: meta }),
      only({ entries: d }),
    ]);
    expect(wal.writes).toBe(2);
    expect(wal.syncs).toBe(2);
    expect(batch).toHaveBeenCalledTimes(2);

    batch.mockRestore();
    put.mockRestore();
    await closeWal(wal);
    wal = await openWal(dir);
    const loaded = await wal.load();
    expect(loaded.snapshot).toEqual(meta);
    expect(loaded.hardState).toEqual({ term: 3, vote: null, commit: 10 });
    expect(plain(loaded.entries)).toEqual(plain(d));
    await closeWal(wal);
    await storedIndices(dir, [11, 12]);
  });
});
