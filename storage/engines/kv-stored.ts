import { Packr } from "msgpackr";
import { tombstone } from "./kv-execute.js";
import type { KeyValue, KvChanges, KvEvent } from "./revisions.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
// No Packr.useBuffer() here: msgpackr's packing buffer is shared by every Packr in the
// process, and a reused buffer overwrote the bytes of entries packed elsewhere.
const packr = new Packr({ useRecords: false });

/**
 * How the revision store's records are written, shared by the LevelDB layout and the
 * checkpoint file (so a checkpoint is the LevelDB records, unsealed):
 *   "d:" + key          → "<createRevision> <modRevision> <version> <lease>\n<value>"
 *   "h:" + revision + ":" + seq → MessagePack of one event of the revision's KvChanges
 *                         (revision zero-padded to 16 digits, seq to 8: key order)
 *   "m:history"         → JSON of HistoryState
 * Before format 4 (LevelDB) and checkpoint format 3, "h:" + revision held JSON of the whole
 * KvChanges: one string per entry, past V8's string limit for a large range delete (issue 12).
 * A checkpoint of format 1 (no metadata) holds keys and bare values instead.
 */
export const DATA_PREFIX = "d:";
export const HISTORY_PREFIX = "h:";
export const HISTORY_STATE_KEY = "m:history";
/** The applied index (LevelDB only: a checkpoint's index is its snapshot's). */
export const APPLIED_KEY = "m:applied";

/** Where the kept history stands; persisted with the data. */
export interface HistoryState {
  /** Events with revision < this are gone; reads at it or later are answered. */
  readonly compactedRevision: number;
  /** Sum of historySize() over the kept changes (for history.keepBytes). */
  readonly historyBytes: number;
}

export function historyKey(revision: number): string {
  return HISTORY_PREFIX + String(revision).padStart(16, "0");
}

/** What an event costs beyond its keys and values (revisions, lease, framing): an estimate. */
const EVENT_OVERHEAD = 64;

/**
 * The size the keepBytes bound counts: the UTF-16 lengths of the events' keys and values plus
 * a fixed overhead per event — cheap (no encoding) and a pure function of the changes, so
 * the same on every replica.
 */
export function historySize(changes: KvChanges): number {
  let size = 0;
  for (const { kv, prevKv } of changes.events) {
    size += EVENT_OVERHEAD + kv.key.length + kv.value.length;
    if (prevKv !== null) size += prevKv.key.length + prevKv.value.length;
  }
  return size;
}

export function encodeKv(kv: KeyValue): string {
  return `${kv.createRevision} ${kv.modRevision} ${kv.version} ${kv.lease ?? ""}\n${kv.value}`;
}

export function decodeKv(key: string, stored: string): KeyValue {
  const newline = stored.indexOf("\n");
  const [create, mod, version, lease] = stored.slice(0, newline).split(" ");
  return {
    key,
    value: stored.slice(newline + 1),
    createRevision: Number(create),
    modRevision: Number(mod),
    version: Number(version),
    lease: lease === "" || lease === undefined ? null : lease,
  };
}

/**
 * A value written before keys carried metadata: it counts as created and last changed at
 * `index`, the index it was applied or restored at (the best that is known), version 1.
 */
export function legacyKv(key: string, value: string, index: number): KeyValue {
  return { key, value, createRevision: index, modRevision: index, version: 1, lease: null };
}

export type StateRecord =
  | { readonly kind: "kv"; readonly kv: KeyValue }
  /** One event of the kept history: the `seq`th of its revision's changes. */
  | { readonly kind: "event"; readonly revision: number; readonly event: KvEvent }
  /** A whole revision's changes in one JSON record: format 3 and checkpoint format 2 only. */
  | { readonly kind: "changes"; readonly changes: KvChanges }
  | { readonly kind: "history"; readonly state: HistoryState };

/** A record as stored: the value as bytes (LevelDB and the checkpoint file keep them so). */
export interface StoredRecord {
  readonly key: string;
  readonly value: Uint8Array;
}

export function kvRecord(kv: KeyValue): StoredRecord {
  return { key: DATA_PREFIX + kv.key, value: encoder.encode(encodeKv(kv)) };
}

/**
 * A revision's changes as one record per event: no record grows with the entry (a range
 * delete of a million keys is a million small records, not one string past V8's limit).
 */
export function changesRecords(changes: KvChanges): StoredRecord[] {
  return changes.events.map((event, seq) => ({
    key: eventKey(changes.revision, seq),
    value: packr.pack(eventTuple(event)),
  }));
}

export function historyStateRecord(state: HistoryState): StoredRecord {
  return { key: HISTORY_STATE_KEY, value: encoder.encode(JSON.stringify(state)) };
}

/** A stored record back; null for keys that are not state (format and applied markers). */
export function decodeRecord(key: string, value: Uint8Array): StateRecord | null {
  if (key.startsWith(DATA_PREFIX))
    return { kind: "kv", kv: decodeKv(key.slice(DATA_PREFIX.length), decoder.decode(value)) };
  if (key.startsWith(HISTORY_PREFIX)) {
    const revision = eventRevision(key);
    if (key.length === EVENT_KEY_LENGTH)
      return { kind: "event", revision, event: decodeEvent(value, revision) };
    return { kind: "changes", changes: JSON.parse(decoder.decode(value)) as KvChanges };
  }
  if (key === HISTORY_STATE_KEY)
    return { kind: "history", state: JSON.parse(decoder.decode(value)) as HistoryState };
  return null;
}

/** The event records of the kept history, grouped back into changes (revision order kept). */
export async function* groupChanges(
  records:
    | AsyncIterable<{ readonly revision: number; readonly event: KvEvent }>
    | Iterable<{ readonly revision: number; readonly event: KvEvent }>,
): AsyncGenerator<KvChanges> {
  let current: { revision: number; events: KvEvent[] } | null = null;
  for await (const { revision, event } of records) {
    if (current !== null && current.revision === revision) {
      current.events.push(event);
      continue;
    }
    if (current !== null) yield current;
    current = { revision, events: [event] };
  }
  if (current !== null) yield current;
}

/** "h:" + revision (16 digits) + ":" + seq (8 digits): key order is revision, then seq. */
const EVENT_KEY_LENGTH = HISTORY_PREFIX.length + 16 + 1 + 8;

/** The revision of a history record's key. */
export function eventRevision(key: string): number {
  return Number(key.slice(HISTORY_PREFIX.length, HISTORY_PREFIX.length + 16));
}

export function eventKey(revision: number, seq: number): string {
  return `${historyKey(revision)}:${String(seq).padStart(8, "0")}`;
}

type KvTuple = [value: string, create: number, mod: number, version: number, lease: string | null];
type EventTuple = [put: boolean, key: string, kv: KvTuple, prev: KvTuple | null];

const tuple = (kv: KeyValue): KvTuple => [
  kv.value,
  kv.createRevision,
  kv.modRevision,
  kv.version,
  kv.lease,
];

const fromTuple = (key: string, [value, c, m, v, lease]: KvTuple): KeyValue => ({
  key,
  value,
  createRevision: c,
  modRevision: m,
  version: v,
  lease,
});

function eventTuple(event: KvEvent): EventTuple {
  // A delete's kv is its tombstone (CONTRACT §5): nothing to store but the key.
  const kv: KvTuple = event.type === "put" ? tuple(event.kv) : ["", 0, 0, 0, null];
  return [event.type === "put", event.kv.key, kv, event.prevKv && tuple(event.prevKv)];
}

export function decodeEvent(bytes: Uint8Array, revision: number): KvEvent {
  const [put, key, kv, prev] = packr.unpack(bytes) as EventTuple;
  return {
    type: put ? "put" : "delete",
    kv: put ? fromTuple(key, kv) : tombstone(key, revision),
    prevKv: prev && fromTuple(key, prev),
  };
}
