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

/** The first damaged record of one log file's bytes, or null. A torn tail is not damage. */
export function findLogDamage(bytes: Uint8Array): { offset: number; reason: string } | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  while (offset < bytes.length) {
    const blockLeft = BLOCK_BYTES - (offset % BLOCK_BYTES);
    if (blockLeft < HEADER_BYTES) {
      offset += blockLeft; // zero padding
      continue;
    }
    // A header or payload cut by the end of the file: the writer died mid-record (never
    // synced, so the batch it held was never relied on).
    if (offset + HEADER_BYTES > bytes.length) return null;
    const length = view.getUint16(offset + 4, true);
    const type = bytes[offset + 6]!;
    if (type === 0 && length === 0 && allZero(bytes, offset)) return null; // preallocated tail
    if (type < TYPE_FULL || type > TYPE_LAST)
      return { offset, reason: `unknown record type ${type}` };
    if (HEADER_BYTES + length > blockLeft)
      return { offset, reason: `record length ${length} crosses its block` };
    if (offset + HEADER_BYTES + length > bytes.length) return null;
    const stored = view.getUint32(offset, true);
    const crc = CRC32C.buf(bytes.subarray(offset + 6, offset + HEADER_BYTES + length), 0) >>> 0;
    if (maskCrc(crc) !== stored) return { offset, reason: "record fails its checksum" };
    offset += HEADER_BYTES + length;
  }
  return null;
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
