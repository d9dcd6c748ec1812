import { mkdir, open, readdir, readFile, rm, stat } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import CRC32C from "crc-32/crc32c.js";

/**
 * A snapshot is one file (so that InstallSnapshot can stream it by offset) holding a directory:
 *   "SRAR1\n", then per file [path length u32][path utf8][size f64][bytes],
 *   then [file count u32][crc32c of everything before u32].
 */
const MAGIC = Buffer.from("SRAR1\n");
/** Files are copied in chunks: a big checkpoint is never held in memory whole. */
const CHUNK_BYTES = 1 << 20;

export class ArchiveCorruptError extends Error {
  override readonly name = "ArchiveCorruptError";
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out.sort();
}

/**
 * Pack `dir` into `file` (synced); returns the archive's size. `signal` abandons the packing
 * between chunks (a stopping node): the promise rejects and `file` is incomplete.
 */
export async function packDirectory(
  dir: string,
  file: string,
  signal?: AbortSignal,
): Promise<number> {
  const handle = await open(file, "w");
  try {
    let crc = CRC32C.buf(MAGIC, 0);
    let size = 0;
    const write = async (bytes: Uint8Array) => {
      crc = CRC32C.buf(bytes, crc);
      await handle.write(bytes);
      size += bytes.length;
    };
    await handle.write(MAGIC);
    size += MAGIC.length;
    const files = await listFiles(dir);
    for (const path of files) {
      const name = Buffer.from(relative(dir, path));
      const source = await open(path, "r");
      try {
        const length = (await source.stat()).size;
        const header = Buffer.alloc(4 + name.length + 8);
        header.writeUInt32BE(name.length, 0);
        name.copy(header, 4);
        header.writeDoubleBE(length, 4 + name.length);
        await write(header);
        const chunk = Buffer.alloc(Math.min(CHUNK_BYTES, length));
        for (let offset = 0; offset < length; ) {
          signal?.throwIfAborted();
          const { bytesRead } = await source.read(chunk, 0, chunk.length, offset);
          if (bytesRead === 0) throw new Error(`${path}: shorter than its ${length} bytes`);
          await write(chunk.subarray(0, bytesRead));
          offset += bytesRead;
        }
      } finally {
        await source.close();
      }
    }
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32BE(files.length, 0);
    trailer.writeUInt32BE(crc >>> 0, 4);
    await handle.write(trailer);
    size += trailer.length;
    await handle.sync();
    return size;
  } finally {
    await handle.close();
  }
}

/** Unpack `file` into `dir` (emptied first), after checking the whole archive's checksum. */
export async function unpackArchive(file: string, dir: string): Promise<void> {
  const bytes = await readFile(file);
  if (bytes.length < MAGIC.length + 8 || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new ArchiveCorruptError(`${file}: not a stageraft snapshot archive`);
  }
  const bodyEnd = bytes.length - 8;
  const count = bytes.readUInt32BE(bodyEnd);
  if (CRC32C.buf(bytes.subarray(0, bodyEnd), 0) >>> 0 !== bytes.readUInt32BE(bodyEnd + 4)) {
    throw new ArchiveCorruptError(`${file}: checksum mismatch`);
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  let offset = MAGIC.length;
  for (let k = 0; k < count; k++) {
    const nameLength = bytes.readUInt32BE(offset);
    const name = bytes.subarray(offset + 4, offset + 4 + nameLength).toString();
    const size = bytes.readDoubleBE(offset + 4 + nameLength);
    const start = offset + 4 + nameLength + 8;
    if (name.includes("..") || start + size > bodyEnd)
      throw new ArchiveCorruptError(`${file}: bad entry ${name}`);
    const path = join(dir, name);
    await mkdir(dirname(path), { recursive: true });
    const handle = await open(path, "w");
    await handle.write(bytes.subarray(start, start + size));
    await handle.close();
    offset = start + size;
  }
  if (offset !== bodyEnd) throw new ArchiveCorruptError(`${file}: trailing bytes`);
}

export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}
