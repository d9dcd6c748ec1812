import { open } from "node:fs/promises";
import CRC32C from "crc-32/crc32c.js";
import type { KvItem } from "./engine.js";

/**
 * The KV checkpoint file, shared by every KV engine:
 *   "SRKV1\n" then records [key length u32][key][value length u32][value],
 *   then a trailer [record count f64][crc32c of everything before the trailer u32].
 */
const MAGIC = new TextEncoder().encode("SRKV1\n");
const FLUSH_BYTES = 1 << 20;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class CheckpointCorruptError extends Error {
  override readonly name = "CheckpointCorruptError";
}

/** `signal` abandons the writing (a stopping node): the file left behind is incomplete. */
export async function writeKvCheckpoint(
  path: string,
  items: AsyncIterable<KvItem> | Iterable<KvItem>,
  signal?: AbortSignal,
): Promise<number> {
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
      const value = encoder.encode(item.value);
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

export async function* readKvCheckpoint(path: string): AsyncGenerator<KvItem> {
  const file = await open(path, "r");
  try {
    const bytes = new Uint8Array(await file.readFile());
    if (bytes.length < MAGIC.length + 12 || !MAGIC.every((b, k) => bytes[k] === b)) {
      throw new CheckpointCorruptError(`${path}: not a KV checkpoint`);
    }
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
      const value = decoder.decode(bytes.subarray(offset + 4, offset + 4 + valueLength));
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
