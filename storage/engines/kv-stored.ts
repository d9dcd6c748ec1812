import type { KeyValue, KvChanges } from "./revisions.js";

/**
 * How the revision store's records are written, shared by the LevelDB layout and the
 * checkpoint file (so a checkpoint is the LevelDB records, unsealed):
 *   "d:" + key          → "<createRevision> <modRevision> <version> <lease>\n<value>"
 *   "h:" + revision     → JSON of the KvChanges (revision zero-padded to 16 digits: key order)
 *   "m:history"         → JSON of HistoryState
 * A checkpoint of format 1 (no metadata) holds keys and bare values instead; see decodeRecord.
 */
export const DATA_PREFIX = "d:";
export const HISTORY_PREFIX = "h:";
export const HISTORY_STATE_KEY = "m:history";

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
  | { readonly kind: "changes"; readonly changes: KvChanges }
  | { readonly kind: "history"; readonly state: HistoryState };

export function encodeRecord(record: StateRecord): { key: string; value: string } {
  switch (record.kind) {
    case "kv":
      return { key: DATA_PREFIX + record.kv.key, value: encodeKv(record.kv) };
    case "changes":
      return { key: historyKey(record.changes.revision), value: JSON.stringify(record.changes) };
    case "history":
      return { key: HISTORY_STATE_KEY, value: JSON.stringify(record.state) };
  }
}

/** A stored record back; null for keys that are not state (format and applied markers). */
export function decodeRecord(key: string, value: string): StateRecord | null {
  if (key.startsWith(DATA_PREFIX))
    return { kind: "kv", kv: decodeKv(key.slice(DATA_PREFIX.length), value) };
  if (key.startsWith(HISTORY_PREFIX))
    return { kind: "changes", changes: JSON.parse(value) as KvChanges };
  if (key === HISTORY_STATE_KEY)
    return { kind: "history", state: JSON.parse(value) as HistoryState };
  return null;
}
