import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import type { Entry } from "../../raft/types.js";
import { SegmentWal } from "../../storage/segment-wal.js";
import { Wal, WalCorruptError } from "../../storage/wal.js";
import { openLogStore, WAL_DIRS } from "../../storage/wal-open.js";
import { chain, plain, snapshotMeta, TempDirs } from "./helpers.js";

const dirs = new TempDirs();
const CONFIG = { voters: ["n1", "n2"], outgoing: [], learners: ["n3"] };
const segments = { engine: "segments", sync: true } as const;

afterEach(async () => {
  await dirs.removeAll();
});

/**
 * A LevelDB WAL as an older node left it: bootstrap config, a snapshot at 10, entries 11..40
 * (13.. after a local compaction), and a commit stored above the log (synced entries lost).
 */
async function levelWal(dataDir: string) {
  const wal = await Wal.open(join(dataDir, WAL_DIRS.level), { sync: true });
  await wal.load();
  await wal.bootstrapConfig(CONFIG);
  const meta = snapshotMeta(10, 2, 0xfeed, 77);
  const entries = chain({ index: 10, chk: meta.chk }, Array<number>(30).fill(3));
  await wal.write([{ hardState: { term: 3, vote: "n2", commit: 45 }, snapshot: meta, entries }]);
  const meta12 = snapshotMeta(12, 3, entries[1]!.chk, 80);
  await wal.compact(meta12, 11);
  await wal.close();
  return { meta: meta12, entries: entries.slice(2) };
}

async function expectContents(
  dataDir: string,
  expected: { meta: unknown; entries: Entry[] },
): Promise<void> {
  const wal = await openLogStore(dataDir, segments);
  try {
    expect(wal).toBeInstanceOf(SegmentWal);
    const loaded = await wal.load();
    expect(loaded.snapshot).toEqual(expected.meta);
    expect(plain(loaded.entries)).toEqual(plain(expected.entries));
    expect(loaded.hardState).toEqual({ term: 3, vote: "n2", commit: 40 });
    expect(loaded.storedCommit).toBe(45);
    expect(await wal.bootstrapConfig({ voters: [], outgoing: [], learners: [] })).toEqual(CONFIG);
  } finally {
    await wal.close();
  }
}

describe("wal open - engines and migration", () => {
  test("wal open - a LevelDB WAL is migrated on first start, and the old dir moved aside", async () => {
    const dataDir = await dirs.make("data");
    const expected = await levelWal(dataDir);
    await expectContents(dataDir, expected);
    expect((await readdir(dataDir)).sort()).toEqual([WAL_DIRS.segments, WAL_DIRS.migratedLevel]);
    // The second start opens the segments as they are.
    await expectContents(dataDir, expected);
  });

  test("wal open - a migration that stopped before its rename reruns (the leftover temp dir is discarded)", async () => {
    const dataDir = await dirs.make("data");
    const expected = await levelWal(dataDir);
    const temp = join(dataDir, WAL_DIRS.migrating);
    await mkdir(temp);
    await writeFile(join(temp, "0000000000000000-0000000000000001.wal"), "half a migration");
    await expectContents(dataDir, expected);
    expect((await readdir(dataDir)).sort()).toEqual([WAL_DIRS.segments, WAL_DIRS.migratedLevel]);
  });

  test("wal open - a migration that stopped after its rename opens the segments and moves the old dir aside", async () => {
    const dataDir = await dirs.make("data");
    const expected = await levelWal(dataDir);
    await expectContents(dataDir, expected);
    // As if the process died between the two renames: the LevelDB dir is back in place.
    const { rename } = await import("node:fs/promises");
    await rename(join(dataDir, WAL_DIRS.migratedLevel), join(dataDir, WAL_DIRS.level));
    await expectContents(dataDir, expected);
    expect((await readdir(dataDir)).sort()).toEqual([WAL_DIRS.segments, WAL_DIRS.migratedLevel]);
  });

  test("wal open - wal.engine level opens the LevelDB WAL as before, and refuses a segment-only dir", async () => {
    const dataDir = await dirs.make("data");
    await levelWal(dataDir);
    const wal = await openLogStore(dataDir, { engine: "level", sync: true });
    expect(wal).toBeInstanceOf(Wal);
    expect((await wal.load()).entries).toHaveLength(28);
    await wal.close();

    const other = await dirs.make("data");
    const segs = await openLogStore(other, segments);
    await segs.load();
    await segs.write([
      { hardState: { term: 1, vote: null, commit: 0 }, snapshot: null, entries: [] },
    ]);
    await segs.close();
    await expect(openLogStore(other, { engine: "level", sync: true })).rejects.toThrow(
      WalCorruptError,
    );
    expect(await readdir(other)).toEqual([WAL_DIRS.segments]);
  });

  test("wal open - a new data dir gets a segment WAL", async () => {
    const dataDir = await dirs.make("data");
    const wal = await openLogStore(dataDir, segments);
    await wal.load();
    expect(await wal.bootstrapConfig(CONFIG)).toEqual(CONFIG);
    await wal.close();
    expect(await readdir(dataDir)).toEqual([WAL_DIRS.segments]);
  });
});
