import { join } from "node:path";
import { assert } from "../raft/assert.js";
import type { HardState, MembershipConfig, SnapshotMeta } from "../raft/types.js";
import { DirLock } from "./dir-lock.js";
import { assertEntriesFollow, type LogStore } from "./log-store.js";
import { nodeSegmentFiles, type SegmentFile, type SegmentFiles } from "./segment-files.js";
import {
  GroupEncoder,
  parseSegmentName,
  type SegmentScan,
  SnapshotKind,
  scanSegment,
  segmentName,
} from "./segment-format.js";
import { checkChain, ReplayState } from "./segment-replay.js";
import { type WalContents, WalCorruptError, type WalWrite } from "./wal.js";

/** Segments roll over past this size; each is preallocated to it (sparse, by ftruncate). */
export const SEGMENT_BYTES_DEFAULT = 64 << 20;

export interface SegmentWalOptions {
  readonly sync?: boolean;
  readonly segmentBytes?: number;
  /**
   * Where the files are (remu's simulated disk); default the process's file system under
   * `dir`, locked against a second process. An injected port is not locked.
   */
  readonly files?: SegmentFiles;
}

export { syncDir } from "./segment-files.js";

interface Segment {
  readonly seq: number;
  readonly name: string;
  /** The highest entry index written to it (0: none): dropped whole once compacted past it. */
  maxIndex: number;
}

const REFUSE = "refusing to start. Restore this node from a snapshot (remove and re-add it).";

/**
 * The write-ahead log as segment files, the shape of etcd's WAL (record format in
 * storage/segment-format.ts). One group commit is one buffer: one positional write and one
 * fdatasync. A new segment starts with the snapshot meta, bootstrap config and hard state, so
 * that older segments can be deleted whole by compaction.
 */
export class SegmentWal implements LogStore {
  writes = 0;
  syncs = 0;
  private segments: Segment[] = [];
  private file: SegmentFile | null = null;
  /** Where the next group goes in the current (last) segment. */
  private offset = 0;
  private state = new ReplayState();
  private loaded = false;
  private readonly segmentBytes: number;
  private readonly sync: boolean;

  private constructor(
    readonly dir: string,
    private readonly files: SegmentFiles,
    private readonly lock: DirLock | null,
    options: SegmentWalOptions,
  ) {
    this.sync = options.sync ?? true;
    this.segmentBytes = options.segmentBytes ?? SEGMENT_BYTES_DEFAULT;
  }

  static async open(dir: string, options: SegmentWalOptions = {}): Promise<SegmentWal> {
    if (options.files !== undefined) return new SegmentWal(dir, options.files, null, options);
    const files = await nodeSegmentFiles(dir);
    // Two processes appending to one segment would corrupt it: one node per data dir.
    return new SegmentWal(dir, files, await DirLock.acquire(dir), options);
  }

  /**
   * Read every segment whole and replay it. Records after the last commit record (a torn
   * group) are cut and the file truncated there; a bad record followed by a committed group,
   * or a chain break followed by more entries, is a damaged middle: WalCorruptError.
   */
  async load(): Promise<WalContents> {
    await this.closeFile();
    const names = await this.segmentNames();
    const state = new ReplayState();
    const segments: Segment[] = [];
    let tail: SegmentScan | null = null;
    for (const [k, name] of names.entries()) {
      const path = join(this.dir, name);
      const bytes = await this.files.readWhole(name);
      const scan = scanSegment(bytes);
      const last = k === names.length - 1;
      if (scan.damage !== null || (!last && (scan.partial || scan.uncommittedEntries > 0))) {
        const offset = scan.damage?.offset ?? scan.committedEnd;
        throw new WalCorruptError(
          `the WAL segment ${path} is damaged at byte ${offset} (${scan.damage?.reason ?? "a group without its commit record"}) and later records are intact; ${REFUSE}`,
        );
      }
      const maxIndex = state.apply(bytes, scan.records);
      segments.push({ seq: parseSegmentName(name)!, name, maxIndex });
      if (last) tail = scan;
    }
    const chain = checkChain(state.snapshot, state.entries);
    if (chain.corruptAt !== null) {
      throw new WalCorruptError(
        `WAL is corrupt at index ${chain.corruptAt}: the entry breaks the history checksum chain but later entries are stored (index ${chain.corruptAfter}); ${REFUSE}`,
        chain.corruptAt,
      );
    }
    this.state = state;
    this.segments = segments;
    this.loaded = true;
    let cut = chain.cut;
    if (tail !== null) cut += await this.reopenTail(tail);
    if (chain.cut > 0) {
      // A stored entry that breaks the chain at the tail: cut it durably.
      const lastGood = chain.entries.at(-1)?.index ?? state.snapshot?.index ?? 0;
      await this.appendGroup((g) => g.truncate(lastGood), true);
      state.truncateAfter(lastGood);
    }
    state.keepEntries = false;
    state.entries = [];
    const hardState = state.hardState;
    return {
      hardState: { ...hardState, commit: Math.min(hardState.commit, state.lastIndex) },
      snapshot: state.snapshot,
      entries: chain.entries,
      truncatedTail: cut,
      storedCommit: hardState.commit,
    };
  }

  /** Open the last segment for appends at its committed end; cut a torn group there. */
  private async reopenTail(scan: SegmentScan): Promise<number> {
    const segment = this.segments.at(-1)!;
    if (scan.committedEnd === 0) {
      // Its first group never became durable: the segment never existed.
      await this.files.unlink(segment.name);
      this.segments.pop();
      await this.files.syncDir();
      return (scan.partial ? 1 : 0) + scan.uncommittedEntries;
    }
    this.file = await this.files.open(segment.name, "append");
    this.offset = scan.committedEnd;
    const torn = scan.partial || scan.uncommittedEntries > 0;
    if (torn) {
      await this.file.truncate(scan.committedEnd);
      await this.file.datasync();
    }
    await this.file.truncate(Math.max(this.segmentBytes, scan.committedEnd));
    return torn ? (scan.partial ? 1 : 0) + scan.uncommittedEntries : 0;
  }

  async bootstrapConfig(initial: MembershipConfig): Promise<MembershipConfig> {
    if (this.state.bootstrap !== null) return this.state.bootstrap;
    await this.appendGroup((g) => g.bootstrap(initial), true);
    this.state.bootstrap = initial;
    return initial;
  }

  /** Group commit: every Ready's records in one buffer, one write, one fdatasync. */
  async write(writes: readonly WalWrite[]): Promise<void> {
    let hardState: HardState | null = null;
    let firstIndex = this.state.firstIndex;
    let lastIndex = this.state.lastIndex;
    let any = false;
    for (const write of writes) {
      if (write.snapshot !== null) {
        firstIndex = write.snapshot.index + 1;
        lastIndex = write.snapshot.index;
        any = true;
      }
      const first = write.entries[0];
      if (first !== undefined) {
        lastIndex = assertEntriesFollow(write.entries, firstIndex, lastIndex);
        any = true;
      }
      if (write.hardState !== null) hardState = write.hardState;
    }
    if (!any && hardState === null) return;
    const last = hardState;
    let sizeHint = 256;
    for (const write of writes)
      for (const entry of write.entries) sizeHint += 32 + entry.data.length;
    const fill = (g: GroupEncoder) => {
      for (const write of writes) {
        if (write.snapshot !== null)
          g.snapshot(SnapshotKind.install, write.snapshot.index, write.snapshot);
        for (const entry of write.entries) g.entry(entry);
      }
      if (last !== null) g.hardState(last);
    };
    await this.appendGroup(fill, this.sync, sizeHint);
    // Our view changes only once the group is durable.
    for (const write of writes) {
      if (write.snapshot !== null)
        this.state.recordSnapshot(SnapshotKind.install, write.snapshot.index, write.snapshot);
      for (const entry of write.entries) this.state.append(entry);
    }
    if (last !== null) this.state.hardState = last;
    this.writes++;
    if (this.sync) this.syncs++;
  }

  /** Record the snapshot, then delete whole segments holding only entries up to `upTo`. */
  async compact(meta: SnapshotMeta, upTo: number): Promise<void> {
    await this.appendGroup((g) => g.snapshot(SnapshotKind.compact, upTo, meta), this.sync);
    this.state.recordSnapshot(SnapshotKind.compact, upTo, meta);
    let dropped = 0;
    // Oldest first, never the one being written: what is left is always a run of segments.
    while (dropped < this.segments.length - 1 && this.segments[dropped]!.maxIndex <= upTo) {
      await this.files.unlink(this.segments[dropped]!.name);
      dropped++;
    }
    if (dropped > 0) this.segments.splice(0, dropped);
  }

  get range(): { firstIndex: number; lastIndex: number } {
    return { firstIndex: this.state.firstIndex, lastIndex: this.state.lastIndex };
  }

  /** The segment files, oldest first (for tests and tools). */
  get segmentPaths(): string[] {
    return this.segments.map((s) => join(this.dir, s.name));
  }

  async close(): Promise<void> {
    // Trim the preallocated zeros, so that the next load reads only records.
    if (this.file !== null) await this.file.truncate(this.offset).catch(() => {});
    await this.closeFile();
    await this.lock?.release();
  }

  /**
   * Encode one group (`fill`), roll over to a new segment when it would pass the target size,
   * write it at the committed end and fdatasync when `sync`.
   */
  private async appendGroup(
    fill: (g: GroupEncoder) => void,
    sync: boolean,
    sizeHint = 256,
  ): Promise<void> {
    assert(this.loaded, "wal: load() before writing");
    const group = new GroupEncoder(sizeHint);
    fill(group);
    const roll = this.file === null || this.offset + group.size > this.segmentBytes;
    const start = roll ? 0 : this.offset;
    const out = roll ? this.segmentHeader() : group;
    if (roll) out.append(group);
    out.commit(start);
    const bytes = out.bytes();
    const segment = roll ? await this.newSegment(bytes.length) : this.segments.at(-1)!;
    let written = 0;
    while (written < bytes.length) {
      const { bytesWritten } = await this.file!.write(
        bytes,
        written,
        bytes.length - written,
        start + written,
      );
      written += bytesWritten;
    }
    if (sync || roll) await this.file!.datasync();
    this.offset = start + bytes.length;
    segment.maxIndex = Math.max(segment.maxIndex, out.maxEntryIndex);
  }

  /** A new segment's first records: what older segments held, so that they can be dropped. */
  private segmentHeader(): GroupEncoder {
    const header = new GroupEncoder();
    const { snapshot, bootstrap, hardState } = this.state;
    if (snapshot !== null)
      header.snapshot(SnapshotKind.compact, this.state.firstIndex - 1, snapshot);
    if (bootstrap !== null) header.bootstrap(bootstrap);
    header.hardState(hardState);
    return header;
  }

  /** Create the next segment file, preallocated, and make its name durable. */
  private async newSegment(firstBytes: number): Promise<Segment> {
    const previous = this.file;
    // With sync off, the groups in the segment rolled over from are not durable yet: sync them
    // before the new segment's first group is, or a power loss could lose a middle of the log.
    if (previous !== null && !this.sync) await previous.datasync();
    const seq = (this.segments.at(-1)?.seq ?? -1) + 1;
    const name = segmentName(seq, this.state.lastIndex + 1);
    const file = await this.files.open(name, "create");
    await file.truncate(Math.max(this.segmentBytes, firstBytes));
    await this.files.syncDir();
    if (previous !== null) {
      await previous.truncate(this.offset);
      await previous.close();
    }
    this.file = file;
    this.offset = 0;
    const segment = { seq, name, maxIndex: 0 };
    this.segments.push(segment);
    return segment;
  }

  private async segmentNames(): Promise<string[]> {
    const named = (await this.files.list())
      .map((name) => ({ name, seq: parseSegmentName(name) }))
      .filter((s): s is { name: string; seq: number } => s.seq !== null)
      .sort((a, b) => a.seq - b.seq);
    for (let k = 1; k < named.length; k++) {
      if (named[k]!.seq !== named[k - 1]!.seq + 1)
        throw new WalCorruptError(
          `the WAL segment after ${join(this.dir, named[k - 1]!.name)} is missing (next is ${named[k]!.name}); ${REFUSE}`,
        );
    }
    return named.map((s) => s.name);
  }

  private async closeFile(): Promise<void> {
    const file = this.file;
    this.file = null;
    await file?.close();
  }
}
