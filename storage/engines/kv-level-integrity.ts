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
/**
 * "4": the kept history is one MessagePack record per event (kv-stored.ts). "3" held one JSON
 * record per revision (migrated at open); "2" bare values without revisions.
 */
export const FORMAT = "4";
/** Written into kv/ when damage is found while running: the next start rebuilds the engine. */
export const DAMAGE_MARKER = "DAMAGED";

const encoder = new TextEncoder();
const CRC_CHARS = 8;

export class KvDamageError extends Error {
  override readonly name = "KvDamageError";
}

/** Over the UTF-8 bytes LevelDB stores (a lone surrogate is stored, and read back, as U+FFFD). */
export function sealValue(key: string, value: string): string {
  return crcHex(encoder.encode(key), encoder.encode(value)) + value;
}

/** The same seal over bytes: the stored bytes are the same as sealValue's for a UTF-8 value. */
export function sealBytes(key: string, value: Uint8Array): Uint8Array {
  const stored = new Uint8Array(CRC_CHARS + value.length);
  const crc = crcHex(encoder.encode(key), value);
  for (let k = 0; k < CRC_CHARS; k++) stored[k] = crc.charCodeAt(k);
  stored.set(value, CRC_CHARS);
  return stored;
}

/** The value bytes stored under `key` (a view, no copy), or null when they fail their checksum. */
export function openBytes(key: string, stored: Uint8Array): Uint8Array | null {
  return sealHolds(encoder.encode(key), stored) ? stored.subarray(CRC_CHARS) : null;
}

/** sealBytes of a text value, encoded straight into the sealed record (one allocation). */
export function sealText(key: string, value: string): Uint8Array {
  const stored = new Uint8Array(CRC_CHARS + value.length * 3);
  const { written } = encoder.encodeInto(value, stored.subarray(CRC_CHARS));
  const crc = crcHex(encoder.encode(key), stored.subarray(CRC_CHARS, CRC_CHARS + written));
  for (let k = 0; k < CRC_CHARS; k++) stored[k] = crc.charCodeAt(k);
  return stored.subarray(0, CRC_CHARS + written);
}

function crcHex(key: Uint8Array, value: Uint8Array): string {
  const length = new Uint8Array(4);
  new DataView(length.buffer).setUint32(0, key.length);
  const seed = CRC32C.buf(key, CRC32C.buf(length, 0));
  return (CRC32C.buf(value, seed) >>> 0).toString(16).padStart(CRC_CHARS, "0");
}

/** The same check on raw bytes (no decoding): for reading a whole engine. */
export function sealHolds(key: Uint8Array, stored: Uint8Array): boolean {
  if (stored.length < CRC_CHARS) return false;
  const expected = crcHex(key, stored.subarray(CRC_CHARS));
  for (let k = 0; k < CRC_CHARS; k++) if (stored[k] !== expected.charCodeAt(k)) return false;
  return true;
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
