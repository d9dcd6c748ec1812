/**
 * A node's in-memory "disk": what a Ready made durable, and all a restart finds. Written only
 * by process-ready (and by compact, which records the owner's snapshot).
 */
import type {
  Entry,
  HardState,
  Ready,
  RestoredState,
  SnapshotChunk,
  SnapshotMeta,
} from "../../../raft/mod.js";

export interface StoredSnapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

export class Disk {
  hardState: HardState = { term: 0, vote: null, commit: 0 };
  snapshot: StoredSnapshot | null = null;
  /** Contiguous entries; after a compaction they start at or after snapshot.index + 1. */
  entries: Entry[] = [];
  /** Chunks of an InstallSnapshot being received. */
  private incoming: { meta: SnapshotMeta; parts: Uint8Array[] } | null = null;

  /** Make a Ready durable, in the order the core asks: chunks, snapshot, hard state, entries. */
  persist(ready: Ready): void {
    for (const chunk of ready.snapshotChunks) this.persistChunk(chunk);
    if (ready.snapshot !== null) {
      const incoming = this.incoming;
      if (incoming === null || incoming.meta.index !== ready.snapshot.index) {
        throw new Error(`snapshot ${ready.snapshot.index} installed without its chunks`);
      }
      this.snapshot = { meta: ready.snapshot, data: concat(incoming.parts) };
      this.incoming = null;
      this.entries = [];
    }
    if (ready.hardState !== null) this.hardState = ready.hardState;
    const first = ready.entries[0];
    if (first !== undefined) {
      const base = this.entries[0]?.index ?? first.index;
      if (first.index < base) throw new Error(`entry ${first.index} is before the disk's ${base}`);
      this.entries.length = first.index - base;
      this.entries.push(...ready.entries);
    }
  }

  private persistChunk(chunk: SnapshotChunk): void {
    if (chunk.offset === 0) this.incoming = { meta: chunk.meta, parts: [] };
    this.incoming?.parts.push(chunk.data);
  }

  /** The owner snapshotted its state at meta.index; entries before it (less retained) go. */
  compact(snapshot: StoredSnapshot, retainEntries: number): void {
    this.snapshot = snapshot;
    const keepFrom = snapshot.meta.index - retainEntries + 1;
    this.entries = this.entries.filter((e) => e.index >= keepFrom);
  }

  restored(): RestoredState {
    return {
      hardState: this.hardState,
      snapshot: this.snapshot?.meta ?? null,
      entries: [...this.entries],
      applied: this.snapshot?.meta.index ?? 0,
    };
  }

  /** The entry at `index` if it is stored. */
  entry(index: number): Entry | undefined {
    const base = this.entries[0]?.index;
    return base === undefined ? undefined : this.entries[index - base];
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
