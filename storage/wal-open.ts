import { rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { LogStore } from "./log-store.js";
import { SegmentWal, syncDir } from "./segment-wal.js";
import { Wal, type WalContents, WalCorruptError } from "./wal.js";

/** Which WAL a node keeps in its data dir (config `wal.engine`). */
export type WalEngine = "segments" | "level";

export interface WalOpenOptions {
  readonly engine: WalEngine;
  readonly sync: boolean;
  readonly segmentBytes?: number;
}

/** The data dir's WAL directories. */
export const WAL_DIRS = {
  level: "wal",
  segments: "wal-segments",
  migrating: "wal-segments.migrating",
  migratedLevel: "wal.migrated-level",
} as const;

/** A LogStore that can also say what it loaded and its stored range (for node-storage). */
export type OpenedLogStore = LogStore & {
  load(): Promise<WalContents>;
  readonly dir: string;
};

/**
 * Open the data dir's WAL. With "segments", a LevelDB WAL (`wal/`) and no segment dir is
 * migrated first: loaded, written whole into `wal-segments.migrating/`, synced, renamed to
 * `wal-segments/`, then `wal/` is moved to `wal.migrated-level/`. A crash at any point leaves a
 * dir that opens: before the rename the LevelDB WAL is still the WAL (the migration reruns).
 */
export async function openLogStore(
  dataDir: string,
  options: WalOpenOptions,
): Promise<OpenedLogStore> {
  const path = (name: keyof typeof WAL_DIRS) => join(dataDir, WAL_DIRS[name]);
  if (options.engine === "level") {
    if ((await exists(path("segments"))) && !(await exists(path("level")))) {
      throw new WalCorruptError(
        `the WAL in ${path("segments")} is in segment files; wal.engine "level" cannot read it ` +
          '(set wal.engine to "segments")',
      );
    }
    return Wal.open(path("level"), { sync: options.sync });
  }
  const segmentOptions = { sync: options.sync, segmentBytes: options.segmentBytes };
  if (!(await exists(path("segments"))) && (await exists(path("level")))) {
    await migrateLevelWal(dataDir, segmentOptions);
  }
  if (await exists(path("level"))) {
    // Migrated, then stopped before the old dir was moved aside.
    await rename(path("level"), path("migratedLevel"));
    await syncDir(dataDir);
  }
  return SegmentWal.open(path("segments"), segmentOptions);
}

const MIGRATE_GROUP_ENTRIES = 4096;

async function migrateLevelWal(
  dataDir: string,
  options: { sync: boolean; segmentBytes?: number },
): Promise<void> {
  const temp = join(dataDir, WAL_DIRS.migrating);
  await rm(temp, { recursive: true, force: true });
  const level = await Wal.open(join(dataDir, WAL_DIRS.level), { sync: true });
  try {
    const contents = await level.load();
    const bootstrap = await level.storedBootstrapConfig();
    const target = await SegmentWal.open(temp, { ...options, sync: true });
    try {
      await target.load();
      if (bootstrap !== null) await target.bootstrapConfig(bootstrap);
      // The commit as stored: above the log it tells the node that synced entries were lost.
      const hardState = { ...contents.hardState, commit: contents.storedCommit };
      await target.write([{ hardState, snapshot: contents.snapshot, entries: [] }]);
      // In groups, so that the segments roll over at their target size.
      for (let k = 0; k < contents.entries.length; k += MIGRATE_GROUP_ENTRIES) {
        const entries = contents.entries.slice(k, k + MIGRATE_GROUP_ENTRIES);
        await target.write([{ hardState: null, snapshot: null, entries }]);
      }
    } finally {
      await target.close();
    }
  } finally {
    await level.close();
  }
  await syncDir(temp);
  await rename(temp, join(dataDir, WAL_DIRS.segments));
  await syncDir(dataDir);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}
