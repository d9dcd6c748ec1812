import CRC32C from "crc-32/crc32c.js";
import type { Entry, HardState, MembershipConfig, SnapshotMeta } from "../raft/types.js";

/**
 * The byte format of the segment WAL (storage/segment-wal.ts), little-endian throughout.
 *
 * A segment file `<seq 16 hex>-<first index 16 hex>.wal` is a run of records:
 *   [length u32][crc32c u32 of type + payload][type u8][payload: length bytes]
 * Payloads:
 *   entry       [index f64][term f64][entry type u8][chk u32][data]
 *   hardState   [term f64][commit f64][has vote u8][vote utf8]
 *   snapshot    [kind u8: 1 install (every entry dropped), 2 compact][upTo f64][meta JSON]
 *   bootstrap   [membership JSON]
 *   truncate    [last index f64]      (entries above it are dropped: a cut chain tail)
 *   commit      [group start f64]     (ends one write(): the group is durable only with it)
 * Records after the last commit record are a torn group (never synced, never acknowledged).
 * A file may end in zeros (preallocated by ftruncate, or not yet written).
 */

export const RECORD_HEADER = 9;
export const RecordType = {
  entry: 1,
  hardState: 2,
  snapshot: 3,
  bootstrap: 4,
  truncate: 5,
  commit: 6,
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];
export const SnapshotKind = { install: 1, compact: 2 } as const;

const ENTRY_FIXED = 21;
const COMMIT_PAYLOAD = 8;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function segmentName(seq: number, firstIndex: number): string {
  const hex = (n: number) => n.toString(16).padStart(16, "0");
  return `${hex(seq)}-${hex(firstIndex)}.wal`;
}

/** The sequence number of a segment file's name, or null for any other file. */
export function parseSegmentName(name: string): number | null {
  const match = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/.exec(name);
  return match === null ? null : Number.parseInt(match[1]!, 16);
}

/** Builds the records of one group commit into one growing buffer (one write, one fsync). */
export class GroupEncoder {
  private buf: Buffer;
  private length = 0;
  /** The highest entry index encoded (0: none). */
  maxEntryIndex = 0;

  constructor(sizeHint = 4096) {
    this.buf = Buffer.allocUnsafe(Math.max(64, sizeHint));
  }

  get size(): number {
    return this.length;
  }

  /** The records so far (a view; valid until the next call). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }

  entry(entry: Entry): void {
    const at = this.begin(RecordType.entry, ENTRY_FIXED + entry.data.length);
    const b = this.buf;
    this.maxEntryIndex = Math.max(this.maxEntryIndex, entry.index);
    b.writeDoubleLE(entry.index, at);
    b.writeDoubleLE(entry.term, at + 8);
    b[at + 16] = entry.type;
    b.writeUInt32LE(entry.chk >>> 0, at + 17);
    b.set(entry.data, at + ENTRY_FIXED);
    this.end(at);
  }

  hardState(state: HardState): void {
    const vote = encoder.encode(state.vote ?? "");
    const at = this.begin(RecordType.hardState, 17 + vote.length);
    this.buf.writeDoubleLE(state.term, at);
    this.buf.writeDoubleLE(state.commit, at + 8);
    this.buf[at + 16] = state.vote === null ? 0 : 1;
    this.buf.set(vote, at + 17);
    this.end(at);
  }

  snapshot(kind: number, upTo: number, meta: SnapshotMeta): void {
    const json = encoder.encode(JSON.stringify(meta));
    const at = this.begin(RecordType.snapshot, 9 + json.length);
    this.buf[at] = kind;
    this.buf.writeDoubleLE(upTo, at + 1);
    this.buf.set(json, at + 9);
    this.end(at);
  }

  bootstrap(config: MembershipConfig): void {
    const json = encoder.encode(JSON.stringify(config));
    const at = this.begin(RecordType.bootstrap, json.length);
    this.buf.set(json, at);
    this.end(at);
  }

  truncate(lastIndex: number): void {
    const at = this.begin(RecordType.truncate, 8);
    this.buf.writeDoubleLE(lastIndex, at);
    this.end(at);
  }

  /** Append another encoder's records after these. */
  append(other: GroupEncoder): void {
    const bytes = other.bytes();
    const at = this.reserve(bytes.length);
    this.buf.set(bytes, at);
    this.maxEntryIndex = Math.max(this.maxEntryIndex, other.maxEntryIndex);
  }

  /** Close the group that began at file offset `groupStart`. */
  commit(groupStart: number): void {
    const at = this.begin(RecordType.commit, COMMIT_PAYLOAD);
    this.buf.writeDoubleLE(groupStart, at);
    this.end(at);
  }

  /** Reserve a record; returns where its payload starts. */
  private begin(type: RecordType, payload: number): number {
    const start = this.reserve(RECORD_HEADER + payload);
    this.buf.writeUInt32LE(payload, start);
    this.buf[start + 8] = type;
    return start + RECORD_HEADER;
  }

  /** Room for `bytes` more; returns where they start. */
  private reserve(bytes: number): number {
    const start = this.length;
    const need = start + bytes;
    if (need > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
      this.buf.copy(grown, 0, 0, start);
      this.buf = grown;
    }
    this.length = need;
    return start;
  }

  private end(payloadAt: number): void {
    const start = payloadAt - RECORD_HEADER;
    const crc = CRC32C.buf(this.buf.subarray(start + 8, this.length), 0) >>> 0;
    this.buf.writeUInt32LE(crc, start + 4);
  }
}

/** What a scan of one segment's bytes found. */
export interface SegmentScan {
  /** Offsets of the records of committed groups, in order (commit records included). */
  readonly records: number[];
  /** The end of the last committed group: the next write goes here. */
  readonly committedEnd: number;
  /** Intact entry records after the last commit record (a torn group). */
  readonly uncommittedEntries: number;
  /** Non-zero bytes after the last intact record: a record cut or damaged by a crash. */
  readonly partial: boolean;
  /** A bad record followed by a committed group: the middle of the log is damaged. */
  readonly damage: { readonly offset: number; readonly reason: string } | null;
}

/** Check every record's frame and checksum; find the committed extent and any damage. */
export function scanSegment(bytes: Uint8Array): SegmentScan {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: number[] = [];
  let committed = 0;
  let committedEnd = 0;
  let offset = 0;
  let bad: string | null = null;
  while (offset < bytes.length) {
    bad = badRecord(bytes, view, offset);
    if (bad !== null) break;
    records.push(offset);
    const length = view.getUint32(offset, true);
    offset += RECORD_HEADER + length;
    if (bytes[offset - length - 1] === RecordType.commit) {
      committed = records.length;
      committedEnd = offset;
    }
  }
  let uncommittedEntries = 0;
  for (const at of records.slice(committed))
    if (bytes[at + 8] === RecordType.entry) uncommittedEntries++;
  records.length = committed;
  const partial = bad !== null && !allZero(bytes, offset);
  const later = partial ? nextCommit(bytes, view, offset + 1) : -1;
  return {
    records,
    committedEnd,
    uncommittedEntries,
    partial,
    damage: later >= 0 ? { offset, reason: bad! } : null,
  };
}

/** Why the record at `offset` is not intact, or null when it is. */
function badRecord(bytes: Uint8Array, view: DataView, offset: number): string | null {
  if (offset + RECORD_HEADER > bytes.length) return "record header cut short";
  const length = view.getUint32(offset, true);
  const type = bytes[offset + 8]!;
  if (type < RecordType.entry || type > RecordType.commit) return `unknown record type ${type}`;
  if (offset + RECORD_HEADER + length > bytes.length) return `record length ${length} past the end`;
  const crc = CRC32C.buf(bytes.subarray(offset + 8, offset + RECORD_HEADER + length), 0) >>> 0;
  return crc === view.getUint32(offset + 4, true) ? null : "record fails its checksum";
}

/** The offset of an intact commit record at or after `from`, or -1 (only read after damage). */
function nextCommit(bytes: Uint8Array, view: DataView, from: number): number {
  const last = bytes.length - RECORD_HEADER - COMMIT_PAYLOAD;
  for (let at = from; at <= last; at++) {
    if (bytes[at + 8] !== RecordType.commit || view.getUint32(at, true) !== COMMIT_PAYLOAD)
      continue;
    if (view.getFloat64(at + RECORD_HEADER, true) > at) continue;
    if (badRecord(bytes, view, at) === null) return at;
  }
  return -1;
}

const ZEROS = new Uint8Array(64 * 1024);

function allZero(bytes: Uint8Array, from: number): boolean {
  for (let at = from; at < bytes.length; at += ZEROS.length) {
    const end = Math.min(bytes.length, at + ZEROS.length);
    if (Buffer.compare(bytes.subarray(at, end), ZEROS.subarray(0, end - at)) !== 0) return false;
  }
  return true;
}

/** An entry record's fields; `data` is copied by `slabs` (see DataSlabs). */
export function decodeEntryRecord(
  bytes: Uint8Array,
  view: DataView,
  at: number,
  slabs: DataSlabs,
): Entry {
  const p = at + RECORD_HEADER;
  const end = at + RECORD_HEADER + view.getUint32(at, true);
  return {
    index: view.getFloat64(p, true),
    term: view.getFloat64(p + 8, true),
    type: bytes[p + 16] as Entry["type"],
    chk: view.getUint32(p + 17, true),
    data: slabs.copy(bytes, p + ENTRY_FIXED, end),
  };
}

const SLAB_BYTES = 64 * 1024;

/**
 * Entry data copied out of a segment's buffer 64 KiB at a time (one memcpy per window, a view
 * per entry). Not views into the segment buffer itself: an entry posted to a worker (the apply
 * or raft-step pool) is cloned with its whole ArrayBuffer — a 64 MiB segment per message — and
 * one live entry would keep its segment's buffer in memory. A window bounds both at 64 KiB.
 */
export class DataSlabs {
  private source: Uint8Array | null = null;
  private window = new Uint8Array(0);
  private windowStart = 0;

  copy(bytes: Uint8Array, start: number, end: number): Uint8Array {
    const windowEnd = this.windowStart + this.window.length;
    if (bytes !== this.source || start < this.windowStart || end > windowEnd) {
      // A copy, not Buffer's slice (a view).
      if (end - start > SLAB_BYTES / 4) return new Uint8Array(bytes.subarray(start, end));
      this.source = bytes;
      this.windowStart = start;
      this.window = new Uint8Array(
        bytes.subarray(start, Math.min(bytes.length, start + SLAB_BYTES)),
      );
    }
    // The constructor, not subarray: subarray's species lookup costs twice as much.
    return new Uint8Array(this.window.buffer, start - this.windowStart, end - start);
  }
}

export function decodeHardStateRecord(bytes: Uint8Array, view: DataView, at: number): HardState {
  const p = at + RECORD_HEADER;
  const end = p + view.getUint32(at, true);
  return {
    term: view.getFloat64(p, true),
    commit: view.getFloat64(p + 8, true),
    vote: bytes[p + 16] === 1 ? decoder.decode(bytes.subarray(p + 17, end)) : null,
  };
}

export function decodeSnapshotRecord(
  bytes: Uint8Array,
  view: DataView,
  at: number,
): { kind: number; upTo: number; meta: SnapshotMeta } {
  const p = at + RECORD_HEADER;
  const end = p + view.getUint32(at, true);
  return {
    kind: bytes[p]!,
    upTo: view.getFloat64(p + 1, true),
    meta: JSON.parse(decoder.decode(bytes.subarray(p + 9, end))) as SnapshotMeta,
  };
}

export function decodeBootstrapRecord(bytes: Uint8Array, view: DataView, at: number) {
  const p = at + RECORD_HEADER;
  return JSON.parse(
    decoder.decode(bytes.subarray(p, p + view.getUint32(at, true))),
  ) as MembershipConfig;
}

/** The f64 payload of a truncate record. */
export function decodeIndexRecord(view: DataView, at: number): number {
  return view.getFloat64(at + RECORD_HEADER, true);
}
