import { ClassicLevel } from "classic-level";
import CRC32C from "crc-32/crc32c.js";
import { chainChecksum } from "../raft/checksum.js";
import type { Entry, EntryType, HardState, MembershipConfig, SnapshotMeta } from "../raft/types.js";
import { checkLevelLogs } from "./level-log.js";
import { assertEntriesFollow, type LogStore } from "./log-store.js";

/**
 * The write-ahead log on LevelDB (classic-level).
 *
 * Key layout (all keys are bytes):
 *   "h"                       → hard state  [crc32c u32][term f64][commit f64][vote utf8]
 *   "m"                       → snapshot meta [crc32c u32][JSON]
 *   "c"                       → the membership the cluster was bootstrapped with [crc32c u32][JSON]
 *   "e" + index (u64 BE)      → entry [crc32c u32][term f64][type u8][chk u32][data]
 * Each value carries a crc32c of the rest, and every entry its link of the history checksum
 * chain, so a torn or corrupt tail is found and cut at load, and a corrupt middle refused.
 * One LevelDB batch with sync=true per group commit: however many Readys it holds.
 */

const HARD_STATE_KEY = new Uint8Array([0x68]); // "h"
const SNAPSHOT_KEY = new Uint8Array([0x6d]); // "m"
const BOOTSTRAP_KEY = new Uint8Array([0x63]); // "c"
const ENTRY_PREFIX = 0x65; // "e"
const ENTRY_HEADER = 4 + 8 + 1 + 4;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class WalCorruptError extends Error {
  override readonly name = "WalCorruptError";
  constructor(
    message: string,
    readonly index?: number,
  ) {
    super(message);
  }
}

/** What one Ready asks to make durable. */
export interface WalWrite {
  readonly hardState: HardState | null;
  /** Install this snapshot: every entry is dropped and its metadata recorded. */
  readonly snapshot: SnapshotMeta | null;
  /** Appended after the snapshot; an entry overwrites the stored suffix from its index. */
  readonly entries: readonly Entry[];
}

export interface WalContents {
  readonly hardState: HardState;
  readonly snapshot: SnapshotMeta | null;
  readonly entries: Entry[];
  /** Entries cut from a torn or corrupt tail at load (never acknowledged: not durable). */
  readonly truncatedTail: number;
  /**
   * The commit index as stored; hardState.commit is capped at the last index. Above it, the
   * storage lost synced records (a disk fault, as LevelDB drops a damaged log block).
   */
  readonly storedCommit: number;
}

export function entryKey(index: number): Uint8Array {
  const key = new Uint8Array(9);
  key[0] = ENTRY_PREFIX;
  new DataView(key.buffer).setBigUint64(1, BigInt(index));
  return key;
}

function crcOf(bytes: Uint8Array, from: number): number {
  return CRC32C.buf(bytes.subarray(from), 0) >>> 0;
}

export function encodeEntry(entry: Entry): Uint8Array {
  const out = new Uint8Array(ENTRY_HEADER + entry.data.length);
  const view = new DataView(out.buffer);
  view.setFloat64(4, entry.term);
  out[12] = entry.type;
  view.setUint32(13, entry.chk);
  out.set(entry.data, ENTRY_HEADER);
  view.setUint32(0, crcOf(out, 4));
  return out;
}

/** Returns null when the record fails its own checksum. */
export function decodeEntry(index: number, bytes: Uint8Array): Entry | null {
  if (bytes.length < ENTRY_HEADER) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0) !== crcOf(bytes, 4)) return null;
  const type = bytes[12] as EntryType;
  return {
    term: view.getFloat64(4),
    index,
    type,
    chk: view.getUint32(13),
    data: bytes.slice(ENTRY_HEADER),
  };
}

function encodeHardState(state: HardState): Uint8Array {
  const vote = encoder.encode(state.vote ?? "");
  const out = new Uint8Array(4 + 8 + 8 + 1 + vote.length);
  const view = new DataView(out.buffer);
  view.setFloat64(4, state.term);
  view.setFloat64(12, state.commit);
  out[20] = state.vote === null ? 0 : 1;
  out.set(vote, 21);
  view.setUint32(0, crcOf(out, 4));
  return out;
}

function decodeHardState(bytes: Uint8Array): HardState {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 21 || view.getUint32(0) !== crcOf(bytes, 4)) {
    throw new WalCorruptError("WAL hard state (term, vote, commit) fails its checksum");
  }
  const hasVote = bytes[20] === 1;
  return {
    term: view.getFloat64(4),
    commit: view.getFloat64(12),
    vote: hasVote ? decoder.decode(bytes.subarray(21)) : null,
  };
}

function encodeJson(value: unknown): Uint8Array {
  const json = encoder.encode(JSON.stringify(value));
  const out = new Uint8Array(4 + json.length);
  out.set(json, 4);
  new DataView(out.buffer).setUint32(0, crcOf(out, 4));
  return out;
}

function decodeJson<T>(bytes: Uint8Array, what: string): T {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4 || view.getUint32(0) !== crcOf(bytes, 4)) {
    throw new WalCorruptError(`WAL ${what} fails its checksum`);
  }
  return JSON.parse(decoder.decode(bytes.subarray(4))) as T;
}

/**
 * The ordered byte store the WAL is kept in: LevelDB on disk, or storage/memory-disk.ts (remu's
 * disk, with faults). `get` answers undefined for a missing key.
 */
export interface WalDb {
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  put(key: Uint8Array, value: Uint8Array, options: { sync: boolean }): Promise<void>;
  batch(ops: readonly WalDbOp[], options: { sync: boolean }): Promise<void>;
  iterator(range: { gt: Uint8Array; lt: Uint8Array }): AsyncIterable<[Uint8Array, Uint8Array]>;
  clear(range: { gte: Uint8Array; lte: Uint8Array }): Promise<void>;
  close(): Promise<void>;
}

export type WalDbOp =
  | { readonly type: "put"; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly type: "del"; readonly key: Uint8Array };

export class Wal implements LogStore {
  private firstIndex = 1;
  private lastIndex = 0;
  writes = 0;
  syncs = 0;

  constructor(
    readonly dir: string,
    private readonly db: WalDb,
    private readonly sync: boolean,
  ) {}

  static async open(dir: string, options: { sync?: boolean } = {}): Promise<Wal> {
    // Before LevelDB opens (abstract-level opens on construction): its recovery would drop
    // the rest of a damaged log block — entries, or the term and vote — without a word.
    const damage = await checkLevelLogs(dir);
    if (damage !== null) {
      throw new WalCorruptError(
        `the WAL's LevelDB log ${damage.file} is damaged at byte ${damage.offset} (${damage.reason}) ` +
          "and records after it are intact: LevelDB would silently drop the records in between; " +
          "refusing to start. Restore this node from a snapshot (remove and re-add it).",
      );
    }
    const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, {
      keyEncoding: "view",
      valueEncoding: "view",
    });
    await db.open();
    return new Wal(dir, db as unknown as WalDb, options.sync ?? true);
  }

  /**
   * Read everything back. A tail whose records fail their checksum or break the chain is
   * cut (it was never durable, so never acknowledged); a bad record followed by good ones
   * means the middle of the log is corrupt, and the node must not start.
   */
  async load(): Promise<WalContents> {
    const hardBytes = await this.db.get(HARD_STATE_KEY);
    const metaBytes = await this.db.get(SNAPSHOT_KEY);
    const hardState = hardBytes ? decodeHardState(hardBytes) : { term: 0, vote: null, commit: 0 };
    const snapshot = metaBytes ? decodeJson<SnapshotMeta>(metaBytes, "snapshot metadata") : null;
    const entries: Entry[] = [];
    let firstBad: number | null = null;
    let badRun = 0;
    let previous: { index: number; chk: number } | null = snapshot
      ? { index: snapshot.index, chk: snapshot.chk }
      : null;
    let firstStored: number | null = null;
    for await (const [key, value] of this.db.iterator({
      gt: entryKey(0),
      lt: entryKey(Number.MAX_SAFE_INTEGER),
    })) {
      const index = Number(
        new DataView(key.buffer, key.byteOffset, key.byteLength).getBigUint64(1),
      );
      firstStored ??= index;
      if (snapshot !== null && index <= snapshot.index) continue; // retained for slow followers; not needed
      const entry = decodeEntry(index, value);
      const linked = entry !== null && this.linksTo(previous, entry);
      if (firstBad === null && linked) {
        entries.push(entry);
        previous = { index, chk: entry.chk };
        continue;
      }
      if (firstBad === null) firstBad = index;
      // Any intact record after a bad one means the damage is not a torn tail.
      if (linked || (index > firstBad && entry !== null)) {
        throw new WalCorruptError(
          `WAL is corrupt at index ${firstBad}: the record fails its checksum but later records are intact ` +
            `(index ${index}); refusing to start. Restore this node from a snapshot (remove and re-add it).`,
          firstBad,
        );
      }
      badRun++;
    }
    if (firstBad !== null) {
      const dels = [];
      for (let index = firstBad; index < firstBad + badRun; index++)
        dels.push({ type: "del" as const, key: entryKey(index) });
      await this.db.batch(dels, { sync: true });
    }
    this.firstIndex = firstStored ?? (snapshot?.index ?? 0) + 1;
    this.lastIndex = entries.at(-1)?.index ?? snapshot?.index ?? 0;
    const commit = Math.min(hardState.commit, this.lastIndex);
    return {
      hardState: { ...hardState, commit },
      snapshot,
      entries,
      truncatedTail: badRun,
      storedCommit: hardState.commit,
    };
  }

  private linksTo(previous: { index: number; chk: number } | null, entry: Entry): boolean {
    if (previous !== null && entry.index !== previous.index + 1) return false;
    if (previous === null && entry.index !== 1) return false;
    return (
      chainChecksum(previous?.chk ?? 0, entry.term, entry.index, entry.type, entry.data) ===
      entry.chk
    );
  }

  /**
   * The configuration at index 0: written once, at the node's first start, and the base of
   * its membership until a snapshot or a config entry replaces it.
   */
  async bootstrapConfig(initial: MembershipConfig): Promise<MembershipConfig> {
    const stored = await this.db.get(BOOTSTRAP_KEY);
    if (stored !== undefined)
      return decodeJson<MembershipConfig>(stored, "bootstrap configuration");
    await this.db.put(BOOTSTRAP_KEY, encodeJson(initial), { sync: true });
    return initial;
  }

  /** The stored bootstrap configuration, or null (read only: for a migration). */
  async storedBootstrapConfig(): Promise<MembershipConfig | null> {
    const stored = await this.db.get(BOOTSTRAP_KEY);
    return stored === undefined
      ? null
      : decodeJson<MembershipConfig>(stored, "bootstrap configuration");
  }

  /** Group commit: every write in one synced LevelDB batch. */
  async write(writes: readonly WalWrite[]): Promise<void> {
    const ops: WalDbOp[] = [];
    let hardState: HardState | null = null;
    // Our view of the stored range changes only once the batch is durable.
    let firstIndex = this.firstIndex;
    let lastIndex = this.lastIndex;
    for (const write of writes) {
      if (write.snapshot !== null) {
        for (let index = firstIndex; index <= lastIndex; index++) {
          ops.push({ type: "del", key: entryKey(index) });
        }
        ops.push({ type: "put", key: SNAPSHOT_KEY, value: encodeJson(write.snapshot) });
        firstIndex = write.snapshot.index + 1;
        lastIndex = write.snapshot.index;
      }
      const first = write.entries[0];
      if (first !== undefined) {
        const newLast = assertEntriesFollow(write.entries, firstIndex, lastIndex);
        for (let index = first.index; index <= lastIndex; index++) {
          ops.push({ type: "del", key: entryKey(index) });
        }
        for (const entry of write.entries) {
          ops.push({ type: "put", key: entryKey(entry.index), value: encodeEntry(entry) });
        }
        lastIndex = newLast;
      }
      if (write.hardState !== null) hardState = write.hardState;
    }
    if (hardState !== null) {
      ops.push({ type: "put", key: HARD_STATE_KEY, value: encodeHardState(hardState) });
    }
    if (ops.length === 0) return;
    // Deleting an entry then putting it again in one batch is fine: LevelDB applies in order.
    await this.db.batch(ops, { sync: this.sync });
    this.firstIndex = firstIndex;
    this.lastIndex = lastIndex;
    this.writes++;
    if (this.sync) this.syncs++;
  }

  /** A local snapshot was taken: record it and drop entries up to `upTo` (kept for laggards before). */
  async compact(meta: SnapshotMeta, upTo: number): Promise<void> {
    await this.db.put(SNAPSHOT_KEY, encodeJson(meta), { sync: this.sync });
    if (upTo >= this.firstIndex) {
      await this.db.clear({ gte: entryKey(this.firstIndex), lte: entryKey(upTo) });
      this.firstIndex = upTo + 1;
    }
  }

  get range(): { firstIndex: number; lastIndex: number } {
    return { firstIndex: this.firstIndex, lastIndex: this.lastIndex };
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
