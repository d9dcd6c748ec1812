import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import CRC32C from "crc-32/crc32c.js";
import type { SnapshotMeta } from "../raft/mod.js";

/**
 * A saved snapshot (`GET /snapshot`, `stageraft snapshot save`): one self-contained file,
 *   "SRSNAP1\n", [meta length u32 BE][meta JSON utf8], then the snapshot archive (meta.size
 *   bytes, storage/archive.ts's format, which ends in a CRC32C of everything before it).
 * The meta is the snapshot's own: index, term, chk (the history chain there), config.
 */
export const SNAPSHOT_FILE_MAGIC = Buffer.from("SRSNAP1\n");
/** A meta is a few hundred bytes; the membership of a large cluster fits many times over. */
const metaBytesMax = 1 << 20;
const chunkBytes = 1 << 20;

export class SnapshotFileError extends Error {
  override readonly name = "SnapshotFileError";
}

/**
 * The bytes that precede the archive in a saved snapshot. `padding` spaces after the meta JSON
 * (still JSON) align the file for etcd's trailer (ETCD_TRAILER_BYTES).
 */
export function snapshotFileHeader(meta: SnapshotMeta, padding = 0): Buffer {
  const json = Buffer.from(JSON.stringify(meta) + " ".repeat(padding));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(json.length, 0);
  return Buffer.concat([SNAPSHOT_FILE_MAGIC, length, json]);
}

export interface SnapshotFileInfo {
  readonly meta: SnapshotMeta;
  /** Where the archive starts in the file. */
  readonly archiveOffset: number;
}

/**
 * Read and check a saved snapshot: its header, its length, and the archive's checksum (read in
 * chunks: a large snapshot is never held whole).
 */
export async function checkSnapshotFile(path: string): Promise<SnapshotFileInfo> {
  const handle = await open(path, "r");
  try {
    const fileSize = (await handle.stat()).size;
    const head = Buffer.alloc(SNAPSHOT_FILE_MAGIC.length + 4);
    await handle.read(head, 0, head.length, 0);
    if (!head.subarray(0, SNAPSHOT_FILE_MAGIC.length).equals(SNAPSHOT_FILE_MAGIC))
      throw new SnapshotFileError(`${path}: not a stageraft snapshot file`);
    const metaLength = head.readUInt32BE(SNAPSHOT_FILE_MAGIC.length);
    if (metaLength > metaBytesMax || head.length + metaLength > fileSize)
      throw new SnapshotFileError(`${path}: bad header (meta of ${metaLength} bytes)`);
    const metaBytes = Buffer.alloc(metaLength);
    await handle.read(metaBytes, 0, metaLength, head.length);
    const meta = parseMeta(metaBytes, path);
    const archiveOffset = head.length + metaLength;
    const end = archiveOffset + meta.size;
    // Saved by etcdctl from the etcd door: etcd's sha256 trailer follows (stages/ingress/etcd).
    if (fileSize === end + ETCD_TRAILER_BYTES) await checkEtcdTrailer(handle, end, path);
    else if (fileSize !== end)
      throw new SnapshotFileError(
        `${path}: ${fileSize - archiveOffset} archive bytes, ${meta.size} in its meta (truncated?)`,
      );
    await checkArchiveCrc(handle, archiveOffset, meta.size, path);
    return { meta, archiveOffset };
  } finally {
    await handle.close();
  }
}

/** etcdctl's snapshot check: a sha256 of the bytes before it, the file 32 mod 512 long. */
export const ETCD_TRAILER_BYTES = 32;

async function checkEtcdTrailer(
  handle: Awaited<ReturnType<typeof open>>,
  end: number,
  path: string,
): Promise<void> {
  const hash = createHash("sha256");
  const chunk = Buffer.alloc(Math.min(chunkBytes, Math.max(end, 1)));
  for (let at = 0; at < end; ) {
    const { bytesRead } = await handle.read(chunk, 0, Math.min(chunk.length, end - at), at);
    if (bytesRead === 0) break;
    hash.update(chunk.subarray(0, bytesRead));
    at += bytesRead;
  }
  const trailer = Buffer.alloc(ETCD_TRAILER_BYTES);
  await handle.read(trailer, 0, ETCD_TRAILER_BYTES, end);
  if (!hash.digest().equals(trailer))
    throw new SnapshotFileError(`${path}: the sha256 trailer does not match the file`);
}

function parseMeta(bytes: Buffer, path: string): SnapshotMeta {
  let meta: Partial<SnapshotMeta>;
  try {
    meta = JSON.parse(bytes.toString("utf8")) as Partial<SnapshotMeta>;
  } catch {
    throw new SnapshotFileError(`${path}: the meta is not JSON`);
  }
  const counts = [meta.index, meta.term, meta.chk, meta.size];
  if (!counts.every((n) => Number.isSafeInteger(n) && (n as number) >= 0))
    throw new SnapshotFileError(`${path}: the meta lacks index, term, chk or size`);
  if (typeof meta.config !== "object" || meta.config === null)
    throw new SnapshotFileError(`${path}: the meta lacks config`);
  return meta as SnapshotMeta;
}

/** The archive's last 4 bytes are the CRC32C of all its bytes before its last 8. */
async function checkArchiveCrc(
  handle: Awaited<ReturnType<typeof open>>,
  offset: number,
  size: number,
  path: string,
): Promise<void> {
  if (size < 8) throw new SnapshotFileError(`${path}: the archive is ${size} bytes`);
  let crc = 0;
  const chunk = Buffer.alloc(Math.min(chunkBytes, size));
  const bodyEnd = offset + size - 8;
  for (let at = offset; at < bodyEnd; ) {
    const { bytesRead } = await handle.read(chunk, 0, Math.min(chunk.length, bodyEnd - at), at);
    if (bytesRead === 0) throw new SnapshotFileError(`${path}: shorter than its header says`);
    crc = CRC32C.buf(chunk.subarray(0, bytesRead), crc);
    at += bytesRead;
  }
  const trailer = Buffer.alloc(8);
  await handle.read(trailer, 0, 8, bodyEnd);
  if (crc >>> 0 !== trailer.readUInt32BE(4))
    throw new SnapshotFileError(`${path}: checksum mismatch (damaged or incomplete)`);
}
