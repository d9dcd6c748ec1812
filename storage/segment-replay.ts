import { chainChecksum } from "../raft/checksum.js";
import type { Entry, HardState, MembershipConfig, SnapshotMeta } from "../raft/types.js";
import {
  DataSlabs,
  decodeBootstrapRecord,
  decodeEntryRecord,
  decodeHardStateRecord,
  decodeIndexRecord,
  decodeSnapshotRecord,
  RecordType,
  SnapshotKind,
} from "./segment-format.js";

/**
 * Replay of the segment WAL's records into the state they describe: the last hard state,
 * snapshot meta and bootstrap config win; an entry at or below the last index truncates the
 * log there before it is appended (a new leader overwrote the suffix), as in etcd's WAL.
 */
export class ReplayState {
  hardState: HardState = { term: 0, vote: null, commit: 0 };
  snapshot: SnapshotMeta | null = null;
  bootstrap: MembershipConfig | null = null;
  /** Stored entries, contiguous (those at or below the snapshot included until compacted). */
  entries: Entry[] = [];
  /** The first index the log holds for laggards, and its last (LogStore's range). */
  firstIndex = 1;
  lastIndex = 0;
  /** Off once loaded: the writer needs only the range, not the entries. */
  keepEntries = true;
  private readonly slabs = new DataSlabs();

  /** Apply the records at `offsets` of one segment's bytes; returns its highest entry index. */
  apply(bytes: Uint8Array, offsets: readonly number[]): number {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let maxIndex = 0;
    for (const at of offsets) {
      switch (bytes[at + 8]) {
        case RecordType.entry: {
          const entry = decodeEntryRecord(bytes, view, at, this.slabs);
          this.append(entry);
          maxIndex = Math.max(maxIndex, entry.index);
          break;
        }
        case RecordType.hardState:
          this.hardState = decodeHardStateRecord(bytes, view, at);
          break;
        case RecordType.snapshot: {
          const { kind, upTo, meta } = decodeSnapshotRecord(bytes, view, at);
          this.recordSnapshot(kind, upTo, meta);
          break;
        }
        case RecordType.bootstrap:
          this.bootstrap = decodeBootstrapRecord(bytes, view, at);
          break;
        case RecordType.truncate:
          this.truncateAfter(decodeIndexRecord(view, at));
          break;
      }
    }
    return maxIndex;
  }

  append(entry: Entry): void {
    this.truncateAfter(entry.index - 1);
    if (this.keepEntries) this.entries.push(entry);
    this.lastIndex = entry.index;
  }

  truncateAfter(lastIndex: number): void {
    if (lastIndex >= this.lastIndex) return;
    this.lastIndex = lastIndex;
    const first = this.entries[0]?.index;
    if (first !== undefined) this.entries.length = Math.max(0, lastIndex - first + 1);
  }

  recordSnapshot(kind: number, upTo: number, meta: SnapshotMeta): void {
    this.snapshot = meta;
    if (kind === SnapshotKind.install) {
      this.entries = [];
      this.firstIndex = meta.index + 1;
      this.lastIndex = meta.index;
      return;
    }
    this.lastIndex = Math.max(this.lastIndex, meta.index);
    if (upTo >= this.firstIndex) {
      this.firstIndex = upTo + 1;
      const first = this.entries[0]?.index;
      if (first !== undefined && upTo >= first) this.entries.splice(0, upTo - first + 1);
    }
  }
}

/**
 * The entries after the snapshot that link into the history checksum chain. A break with
 * nothing after it is a tail cut (`cut`: 1); a break followed by more entries is a damaged
 * middle (`corruptAt`), as storage/wal.ts decides for LevelDB records.
 */
export function checkChain(
  snapshot: SnapshotMeta | null,
  stored: readonly Entry[],
): { entries: Entry[]; cut: number; corruptAt: number | null; corruptAfter: number | null } {
  const entries: Entry[] = [];
  let previous: { index: number; chk: number } | null = snapshot;
  let k = 0;
  while (k < stored.length && snapshot !== null && stored[k]!.index <= snapshot.index) k++;
  for (; k < stored.length; k++) {
    const entry = stored[k]!;
    const linked =
      (previous === null ? entry.index === 1 : entry.index === previous.index + 1) &&
      chainChecksum(previous?.chk ?? 0, entry.term, entry.index, entry.type, entry.data) ===
        entry.chk;
    if (!linked) {
      if (k === stored.length - 1) return { entries, cut: 1, corruptAt: null, corruptAfter: null };
      return { entries, cut: 0, corruptAt: entry.index, corruptAfter: stored[k + 1]!.index };
    }
    entries.push(entry);
    previous = entry;
  }
  return { entries, cut: 0, corruptAt: null, corruptAfter: null };
}
