import { assert } from "../raft/assert.js";
import type { Entry, MembershipConfig, SnapshotMeta } from "../raft/types.js";
import type { WalContents, WalWrite } from "./wal.js";

/**
 * Where a node's Raft log, hard state and snapshot metadata are kept: storage/wal.ts, over
 * LevelDB in a node or over storage/memory-disk.ts (with faults) in remu. Small on purpose.
 */
export interface LogStore {
  /** Read everything back (a torn tail is cut; a corrupt middle throws WalCorruptError). */
  load(): Promise<WalContents>;
  /** The configuration the cluster was bootstrapped with, stored at the first start. */
  bootstrapConfig(initial: MembershipConfig): Promise<MembershipConfig>;
  /** Group commit: durable (synced) when it resolves. */
  write(writes: readonly WalWrite[]): Promise<void>;
  /** A local snapshot was taken: record it and drop entries up to `upTo`. */
  compact(meta: SnapshotMeta, upTo: number): Promise<void>;
  close(): Promise<void>;
  /** Batches written, and those synced (the dashboard's counters). */
  readonly writes: number;
  readonly syncs: number;
}

/**
 * A write's entries must follow the stored range [firstIndex, lastIndex] (overwriting a
 * suffix is fine) and be contiguous: a gap or a reordered batch would be read back as a broken
 * log. Refused here, by both log stores. Returns the new last index.
 */
export function assertEntriesFollow(
  entries: readonly Entry[],
  firstIndex: number,
  lastIndex: number,
): number {
  const first = entries[0]!;
  assert(
    first.index >= firstIndex && first.index <= lastIndex + 1,
    `wal: entries from ${first.index} do not follow the stored range [${firstIndex}, ${lastIndex}]`,
  );
  assert(
    entries.at(-1)!.index === first.index + entries.length - 1,
    "wal: a write's entries are not contiguous",
  );
  return entries.at(-1)!.index;
}
