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
  const crc = crcOf(encoder.encode(key), encoder.encode(value));
  return crc.toString(16).padStart(CRC_CHARS, "0") + value;
}

/** The same seal over bytes: the stored bytes are the same as sealValue's for a UTF-8 value. */
export function sealBytes(key: string, value: Uint8Array): Uint8Array {
  const stored = new Uint8Array(CRC_CHARS + value.length);
  stored.set(value, CRC_CHARS);
  writeHex(crcOf(encoder.encode(key), value), stored);
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
  writeHex(crcOf(encoder.encode(key), stored.subarray(CRC_CHARS, CRC_CHARS + written)), stored);
  return stored.subarray(0, CRC_CHARS + written);
}

/** The same check on raw bytes (no decoding): for reading a whole engine. */
export function sealHolds(key: Uint8Array, stored: Uint8Array): boolean {
  if (stored.length < CRC_CHARS) return false;
  const crc = crcOf(key, stored.subarray(CRC_CHARS));
  for (let k = 0; k < CRC_CHARS; k++)
    if (stored[k] !== HEX[(crc >>> (28 - 4 * k)) & 15]) return false;
  return true;
}

const lengthBytes = new Uint8Array(4);
const lengthView = new DataView(lengthBytes.buffer);
/** Lowercase hex digits, as the seal's 8 leading characters are written. */
const HEX = new TextEncoder().encode("0123456789abcdef");

/** crc32c of the key's length (u32, big-endian), the key, then the value. */
function crcOf(key: Uint8Array, value: Uint8Array): number {
  lengthView.setUint32(0, key.length);
  return CRC32C.buf(value, CRC32C.buf(key, CRC32C.buf(lengthBytes, 0))) >>> 0;
}

function writeHex(crc: number, target: Uint8Array): void {
  for (let k = 0; k < CRC_CHARS; k++) target[k] = HEX[(crc >>> (28 - 4 * k)) & 15]!;
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
