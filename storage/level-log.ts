import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import CRC32C from "crc-32/crc32c.js";

/**
 * Our own check of a LevelDB directory's write-ahead `.log` files, run before LevelDB opens
 * it. classic-level opens LevelDB without paranoid checks: a record failing its checksum is
 * dropped with the rest of its 32 KiB block, silently. Format (leveldb/doc/log_format.md):
 * 32 KiB blocks of records [masked crc32c u32 LE][length u16 LE][type u8][payload]; the crc
 * covers the type byte and the payload; a block tail shorter than a header is zero padding.
 */

const BLOCK_BYTES = 32 * 1024;
const HEADER_BYTES = 7;
const MASK_DELTA = 0xa282ead8;
const TYPE_FULL = 1;
const TYPE_LAST = 4;

export interface LogDamage {
  readonly file: string;
  readonly offset: number;
  readonly reason: string;
}

/** LevelDB's crc mask: a crc stored next to data it covers must not look like data. */
export function maskCrc(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + MASK_DELTA) >>> 0;
}

/**
 * The first damaged record of one log file's bytes that is followed by an intact record, or
 * null. Damage with nothing intact after it is a torn tail (a crash mid-write): LevelDB drops
 * it, which loses only a tail of batches — as the crash itself did.
 */
export function findLogDamage(bytes: Uint8Array): { offset: number; reason: string } | null {
  let offset = 0;
  while (offset < bytes.length) {
    const record = readRecord(bytes, offset);
    if (record === "end") return null;
    if (typeof record === "number") {
      offset = record;
      continue;
    }
    // Records after a bad one can be found again only at a block start.
    for (let block = offset - (offset % BLOCK_BYTES) + BLOCK_BYTES; block < bytes.length; ) {
      const next = readRecord(bytes, block);
      if (typeof next === "number") return { offset, reason: record.reason };
      block += BLOCK_BYTES;
    }
    return null;
  }
  return null;
}

/** The record at `offset`: the offset after it, "end" (end of the log), or why it is bad. */
function readRecord(bytes: Uint8Array, offset: number): number | "end" | { reason: string } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const blockLeft = BLOCK_BYTES - (offset % BLOCK_BYTES);
  if (blockLeft < HEADER_BYTES) return offset + blockLeft; // zero padding
  // A header or payload cut by the end of the file: the writer died mid-record.
  if (offset + HEADER_BYTES > bytes.length) return "end";
  const length = view.getUint16(offset + 4, true);
  const type = bytes[offset + 6]!;
  if (type === 0 && length === 0 && allZero(bytes, offset)) return "end"; // preallocated
  if (type < TYPE_FULL || type > TYPE_LAST) return { reason: `unknown record type ${type}` };
  if (HEADER_BYTES + length > blockLeft)
    return { reason: `record length ${length} crosses its block` };
  if (offset + HEADER_BYTES + length > bytes.length) return "end";
  const stored = view.getUint32(offset, true);
  const crc = CRC32C.buf(bytes.subarray(offset + 6, offset + HEADER_BYTES + length), 0) >>> 0;
  if (maskCrc(crc) !== stored) return { reason: "record fails its checksum" };
  return offset + HEADER_BYTES + length;
}

function allZero(bytes: Uint8Array, from: number): boolean {
  for (let k = from; k < bytes.length; k++) if (bytes[k] !== 0) return false;
  return true;
}

/** Check every `.log` file of a LevelDB directory (absent directory: nothing to check). */
export async function checkLevelLogs(dir: string): Promise<LogDamage | null> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((name) => /^\d+\.log$/.test(name)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  for (const name of names) {
    const file = join(dir, name);
    const damage = findLogDamage(new Uint8Array(await readFile(file)));
    if (damage !== null) return { file, ...damage };
  }
  return null;
}
