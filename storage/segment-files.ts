import { mkdir, open, readdir, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";

/**
 * An open segment file: the calls the segment WAL makes on it. Node's FileHandle is one as
 * is (no wrapper on the write path); storage/memory-disk.ts gives remu's.
 */
export interface SegmentFile {
  write(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number,
  ): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * The directory the segment WAL keeps its files in (by name): what storage/segment-wal.ts
 * asks of a file system, so that remu can run it on its simulated disk.
 */
export interface SegmentFiles {
  /** The names in the directory (any order). */
  list(): Promise<string[]>;
  readWhole(name: string): Promise<Uint8Array>;
  /** "append": an existing file, read-write ("r+"); "create": a new one, refused if it exists ("wx"). */
  open(name: string, mode: "append" | "create"): Promise<SegmentFile>;
  unlink(name: string): Promise<void>;
  /** fsync the directory: a file created or removed in it stays so after a crash. */
  syncDir(): Promise<void>;
}

/** The process's file system under `dir` (created if missing). */
export async function nodeSegmentFiles(dir: string): Promise<SegmentFiles> {
  await mkdir(dir, { recursive: true });
  return {
    list: () => readdir(dir),
    readWhole: (name) => readFile(join(dir, name)),
    open: (name, mode) => open(join(dir, name), mode === "create" ? "wx" : "r+"),
    unlink: (name) => unlink(join(dir, name)),
    syncDir: () => syncDir(dir),
  };
}

/** fsync a directory, so that a file created or removed in it stays so after a crash. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
