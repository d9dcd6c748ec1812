import type { MembershipConfig, SnapshotMeta } from "../raft/types.js";
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
