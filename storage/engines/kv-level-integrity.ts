import { existsSync, writeFileSync } from "node:fs";
import { readFile, rename, rm } from "node:fs/promises";
import CRC32C from "crc-32/crc32c.js";
import { checkLevelLogs } from "../level-log.js";

/**
 * What keeps the LevelDB KV engine from serving what was never written: LevelDB is opened
 * without checksum verification (classic-level has no option for it), so every stored value
 * carries a crc32c of its key and value, checked on every read, and the engine's LevelDB
 * write-ahead logs are checked before LevelDB opens them.
 */

/** The stored-value format; an engine without it predates value checksums. */
export const FORMAT_KEY = "m:format";
/** "3": values carry their revisions, and the kept history is stored (kv-stored.ts). */
export const FORMAT = "3";
/** Written into kv/ when damage is found while running: the next start rebuilds the engine. */
export const DAMAGE_MARKER = "DAMAGED";

const encoder = new TextEncoder();
const CRC_CHARS = 8;

export class KvDamageError extends Error {
  override readonly name = "KvDamageError";
}

/** Over the UTF-8 bytes LevelDB stores (a lone surrogate is stored, and read back, as U+FFFD). */
function crcOf(key: string, value: string): string {
  const keyBytes = encoder.encode(key);
  const length = new Uint8Array(4);
  new DataView(length.buffer).setUint32(0, keyBytes.length);
  const seed = CRC32C.buf(keyBytes, CRC32C.buf(length, 0));
  return (CRC32C.buf(encoder.encode(value), seed) >>> 0).toString(16).padStart(CRC_CHARS, "0");
}

export function sealValue(key: string, value: string): string {
  return crcOf(key, value) + value;
}

/** The same check on raw bytes (no decoding): for reading a whole engine. */
export function sealHolds(key: Uint8Array, stored: Uint8Array): boolean {
  if (stored.length < CRC_CHARS) return false;
  const length = new Uint8Array(4);
  new DataView(length.buffer).setUint32(0, key.length);
  const seed = CRC32C.buf(key, CRC32C.buf(length, 0));
  const crc = (CRC32C.buf(stored.subarray(CRC_CHARS), seed) >>> 0).toString(16);
  const expected = crc.padStart(CRC_CHARS, "0");
  for (let k = 0; k < CRC_CHARS; k++) if (stored[k] !== expected.charCodeAt(k)) return false;
  return true;
}

/** The value stored under `key`, or null when it fails its checksum. */
export function openValue(key: string, stored: string): string | null {
  if (stored.length < CRC_CHARS) return null;
  const value = stored.slice(CRC_CHARS);
  return stored.slice(0, CRC_CHARS) === crcOf(key, value) ? value : null;
}

/**
 * Why the engine in `dir` cannot be trusted, found before LevelDB opens it: a damage marker
 * left by a running node, or a LevelDB log record failing its checksum. Null when sound.
 */
export async function findDamage(dir: string): Promise<string | null> {
  const marker = `${dir}/${DAMAGE_MARKER}`;
  if (existsSync(marker)) return `${marker}: ${(await readFile(marker, "utf8")).trim()}`;
  const damage = await checkLevelLogs(dir);
  if (damage === null) return null;
  return `${damage.file} at byte ${damage.offset}: ${damage.reason}`;
}

/** Keep the damaged engine aside (one copy: kv.damaged) and leave `dir` empty for a rebuild. */
export async function setAside(dir: string): Promise<string> {
  const aside = `${dir}.damaged`;
  await rm(aside, { recursive: true, force: true });
  await rename(dir, aside);
  return aside;
}

/** Mark the engine damaged; synchronous, as the node stops right after (process.exit). */
export function markDamaged(dir: string, reason: string): void {
  writeFileSync(`${dir}/${DAMAGE_MARKER}`, `${reason}\n`, { flush: true });
}
