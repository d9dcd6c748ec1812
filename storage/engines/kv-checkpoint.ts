import { open } from "node:fs/promises";
import CRC32C from "crc-32/crc32c.js";
import { decodeRecord, legacyKv, type StateRecord, type StoredRecord } from "./kv-stored.js";

/**
 * The KV checkpoint file, shared by every KV engine:
 *   "SRKV3\n" then records [key length u32][key][value length u32][value],
 *   then a trailer [record count f64][crc32c of everything before the trailer u32].
 * Format 3 records are the revision store's as LevelDB keeps them (kv-stored.ts: keys with
 * metadata, one record per history event, the history state). Older files still read:
 * format 2 held each revision's history as one JSON record, format 1 ("SRKV1\n", written
 * before revisions) bare keys and values.
 */
type Format = 1 | 2 | 3;
const FORMATS: readonly Format[] = [1, 2, 3];
const MAGICS: Record<Format, Uint8Array> = {
  1: new TextEncoder().encode("SRKV1\n"),
  2: new TextEncoder().encode("SRKV2\n"),
  3: new TextEncoder().encode("SRKV3\n"),
};
const FLUSH_BYTES = 1 << 20;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A record to write: a value given as a string is written as its UTF-8 bytes. */
interface CheckpointItem {
  readonly key: string;
  readonly value: string | Uint8Array;
}

export class CheckpointCorruptError extends Error {
  override readonly name = "CheckpointCorruptError";
}

/** `signal` abandons the writing (a stopping node): the file left behind is incomplete. */
export async function writeKvCheckpoint(
  path: string,
  items: AsyncIterable<CheckpointItem> | Iterable<CheckpointItem>,
  signal?: AbortSignal,
  format: Format = 3,
): Promise<number> {
  const MAGIC = MAGICS[format];
  const file = await open(path, "w");
  try {
    let crc = CRC32C.buf(MAGIC, 0);
    let size = 0;
    let pending: Uint8Array[] = [MAGIC];
    let pendingBytes = MAGIC.length;
    let count = 0;
    const flush = async () => {
      const chunk = Buffer.concat(pending);
      await file.write(chunk);
      size += chunk.length;
      pending = [];
      pendingBytes = 0;
    };
    for await (const item of items) {
      signal?.throwIfAborted();
      const key = encoder.encode(item.key);
      const value = typeof item.value === "string" ? encoder.encode(item.value) : item.value;
      const record = new Uint8Array(8 + key.length + value.length);
      const view = new DataView(record.buffer);
      view.setUint32(0, key.length);
      record.set(key, 4);
      view.setUint32(4 + key.length, value.length);
      record.set(value, 8 + key.length);
      crc = CRC32C.buf(record, crc);
      pending.push(record);
      pendingBytes += record.length;
      count++;
      if (pendingBytes >= FLUSH_BYTES) await flush();
    }
    const trailer = new Uint8Array(12);
    new DataView(trailer.buffer).setFloat64(0, count);
    new DataView(trailer.buffer).setUint32(8, crc >>> 0);
    pending.push(trailer);
    await flush();
    await file.sync();
    return size;
  } finally {
    await file.close();
  }
}

/**
 * The state in a checkpoint taken at `index`. A format 1 file's values count as written at
 * `index` (legacyKv), and its history as starting there.
 */
export async function* readCheckpointRecords(
  path: string,
  index: number,
): AsyncGenerator<StateRecord> {
  let format = 3 as Format;
  for await (const { key, value } of readKvCheckpoint(path, (found) => {
    format = found;
  })) {
    if (format === 1) {
      yield { kind: "kv", kv: legacyKv(key, decoder.decode(value), index) };
      continue;
    }
    const record = decodeRecord(key, value);
    if (record === null) throw new CheckpointCorruptError(`${path}: unknown record ${key}`);
    yield record;
  }
  if (format === 1) yield { kind: "history", state: { compactedRevision: index, historyBytes: 0 } };
}

/** The raw records; `onFormat` learns the file's format before the first record. */
export async function* readKvCheckpoint(
  path: string,
  onFormat?: (format: Format) => void,
): AsyncGenerator<StoredRecord> {
  const file = await open(path, "r");
  try {
    const bytes = new Uint8Array(await file.readFile());
    const format = FORMATS.find((f) => MAGICS[f].every((b, k) => bytes[k] === b));
    if (bytes.length < MAGICS[3].length + 12 || format === undefined) {
      throw new CheckpointCorruptError(`${path}: not a KV checkpoint`);
    }
    onFormat?.(format);
    const MAGIC = MAGICS[format];
    const bodyEnd = bytes.length - 12;
    const trailer = new DataView(bytes.buffer, bytes.byteOffset + bodyEnd, 12);
    if (CRC32C.buf(bytes.subarray(0, bodyEnd), 0) >>> 0 !== trailer.getUint32(8)) {
      throw new CheckpointCorruptError(`${path}: checksum mismatch`);
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let offset = MAGIC.length;
    let count = 0;
    while (offset < bodyEnd) {
      const keyLength = view.getUint32(offset);
      const key = decoder.decode(bytes.subarray(offset + 4, offset + 4 + keyLength));
      offset += 4 + keyLength;
      const valueLength = view.getUint32(offset);
      const value = bytes.subarray(offset + 4, offset + 4 + valueLength);
      offset += 4 + valueLength;
      count++;
      yield { key, value };
    }
    if (count !== trailer.getFloat64(0))
      throw new CheckpointCorruptError(`${path}: record count mismatch`);
  } finally {
    await file.close();
  }
}
