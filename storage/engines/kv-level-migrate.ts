import type { ClassicLevel } from "classic-level";
import { FORMAT, FORMAT_KEY, sealBytes, sealText } from "./kv-level-integrity.js";
import {
  APPLIED_KEY,
  changesRecords,
  DATA_PREFIX,
  encodeKv,
  HISTORY_PREFIX,
  type HistoryState,
  historyStateRecord,
  legacyKv,
  type StoredRecord,
} from "./kv-stored.js";
import type { KvChanges } from "./revisions.js";

/**
 * Opening LevelDB KV engines of older formats (kv-level-integrity.ts FORMAT): each migration
 * is one atomic batch that ends with the new format marker, so a crash leaves the old format.
 * Also the sealed LevelDB operations that kv-level.ts writes with (shared with migrations).
 */

export type LevelOp =
  | { type: "put"; key: string; value: Uint8Array }
  | { type: "del"; key: string };
/** A stored value's bytes, checked (kv-level.ts read: damage stops the node). */
export type OpenStored = (dbKey: string, stored: Uint8Array | undefined) => Uint8Array | null;

const decoder = new TextDecoder();

export function sealedPut({ key, value }: StoredRecord): LevelOp {
  return { type: "put", key, value: sealBytes(key, value) };
}

export function sealedText(key: string, value: string): LevelOp {
  return { type: "put", key, value: sealText(key, value) };
}

/** The smallest string greater than every string starting with `prefix`. */
export function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

/**
 * Format 2 → current: each bare value gets the metadata of a value applied at the engine's
 * applied index (legacyKv), and the history starts there.
 */
export async function migrateBareValues(
  db: ClassicLevel<string, Uint8Array>,
  open: OpenStored,
): Promise<void> {
  const applied = Number(text(open(APPLIED_KEY, await db.get(APPLIED_KEY))) ?? 0);
  const ops: LevelOp[] = [];
  for await (const [dbKey, stored] of db.iterator({
    gte: DATA_PREFIX,
    lt: prefixEnd(DATA_PREFIX),
  })) {
    const value = decoder.decode(open(dbKey, stored)!);
    const kv = legacyKv(dbKey.slice(DATA_PREFIX.length), value, applied);
    ops.push(sealedText(dbKey, encodeKv(kv)));
  }
  const history: HistoryState = { compactedRevision: applied, historyBytes: 0 };
  ops.push(sealedPut(historyStateRecord(history)));
  ops.push(sealedText(FORMAT_KEY, FORMAT));
  await db.batch(ops, { sync: true });
}

/** Format 3 → 4: each revision's JSON history record becomes one record per event. */
export async function migrateJsonHistory(
  db: ClassicLevel<string, Uint8Array>,
  open: OpenStored,
): Promise<void> {
  const ops: LevelOp[] = [];
  for await (const [dbKey, stored] of db.iterator({
    gte: HISTORY_PREFIX,
    lt: prefixEnd(HISTORY_PREFIX),
  })) {
    const changes = JSON.parse(decoder.decode(open(dbKey, stored)!)) as KvChanges;
    ops.push({ type: "del", key: dbKey });
    for (const record of changesRecords(changes)) ops.push(sealedPut(record));
  }
  ops.push(sealedText(FORMAT_KEY, FORMAT));
  await db.batch(ops, { sync: true });
}

export function text(bytes: Uint8Array | null): string | null {
  return bytes === null ? null : decoder.decode(bytes);
}
