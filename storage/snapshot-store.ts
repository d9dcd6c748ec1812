import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { SnapshotMeta } from "../raft/types.js";

/**
 * Snapshots on disk: `snap-<index>.bin` holds the state (an engine checkpoint), and
 * `snap-<index>.json` its metadata, written last so that a snapshot without metadata is an
 * unfinished one. The newest `keep` snapshots are kept. An InstallSnapshot being received is
 * assembled in `incoming.part` (restarted at offset 0), then renamed into place.
 */
export class SnapshotStore {
  private latestMeta: SnapshotMeta | null = null;

  constructor(
    readonly dir: string,
    private readonly keep = 2,
  ) {}

  async open(): Promise<SnapshotMeta | null> {
    await mkdir(this.dir, { recursive: true });
    const names = await readdir(this.dir);
    const indices = names
      .map((name) => /^snap-(\d+)\.json$/.exec(name)?.[1])
      .filter((index): index is string => index !== undefined)
      .map(Number)
      .sort((a, b) => b - a);
    for (const index of indices) {
      const meta = await this.readMeta(index);
      if (meta !== null) {
        this.latestMeta = meta;
        break;
      }
    }
    return this.latestMeta;
  }

  latest(): SnapshotMeta | null {
    return this.latestMeta;
  }

  dataPath(index: number): string {
    return join(this.dir, `snap-${index}.bin`);
  }

  /** A scratch directory for packing and unpacking snapshot archives. */
  workDir(): string {
    return join(this.dir, "work");
  }

  /** Where an engine writes a checkpoint before its metadata is known. */
  tempPath(): string {
    return join(this.dir, "checkpoint.tmp");
  }

  /** Make a checkpoint at tempPath() the snapshot `meta` describes. */
  async commit(meta: SnapshotMeta, fromPath = this.tempPath()): Promise<void> {
    const size = (await stat(fromPath)).size;
    if (size !== meta.size)
      throw new Error(
        `snapshot ${meta.index}: ${size} bytes on disk, ${meta.size} in its metadata`,
      );
    await rename(fromPath, this.dataPath(meta.index));
    await this.writeMeta(meta);
    // The renames are durable only once the directory is: the WAL may be compacted next.
    await syncDirectory(this.dir);
    this.latestMeta = meta;
    await this.prune();
  }

  /** Bytes [offset, offset + length) of snapshot `index`, or null if it is gone. */
  async read(index: number, offset: number, length: number): Promise<Uint8Array | null> {
    let file: Awaited<ReturnType<typeof open>>;
    try {
      file = await open(this.dataPath(index), "r");
    } catch {
      return null;
    }
    try {
      const buffer = new Uint8Array(length);
      const { bytesRead } = await file.read(buffer, 0, length, offset);
      return bytesRead === length ? buffer : null;
    } finally {
      await file.close();
    }
  }

  /** Persist one received InstallSnapshot chunk (synced: the ack promises it is durable). */
  async writeChunk(offset: number, data: Uint8Array): Promise<void> {
    const path = join(this.dir, "incoming.part");
    const file = await open(path, offset === 0 ? "w" : "r+");
    try {
      await file.write(data, 0, data.length, offset);
      await file.sync();
    } finally {
      await file.close();
    }
  }

  /** The last chunk arrived and the core installs the snapshot: move it into place. */
  async installIncoming(meta: SnapshotMeta): Promise<string> {
    await this.commit(meta, join(this.dir, "incoming.part"));
    return this.dataPath(meta.index);
  }

  async discardIncoming(): Promise<void> {
    await rm(join(this.dir, "incoming.part"), { force: true });
  }

  private async writeMeta(meta: SnapshotMeta): Promise<void> {
    const path = join(this.dir, `snap-${meta.index}.json`);
    await writeFile(`${path}.tmp`, JSON.stringify(meta));
    const file = await open(`${path}.tmp`, "r+");
    await file.sync();
    await file.close();
    await rename(`${path}.tmp`, path);
  }

  private async readMeta(index: number): Promise<SnapshotMeta | null> {
    try {
      const meta = JSON.parse(
        await readFile(join(this.dir, `snap-${index}.json`), "utf8"),
      ) as SnapshotMeta;
      const size = (await stat(this.dataPath(index))).size;
      return size === meta.size ? meta : null;
    } catch {
      return null;
    }
  }

  private async prune(): Promise<void> {
    const names = await readdir(this.dir);
    const indices = [
      ...new Set(
        names
          // Only snapshots with metadata count toward `keep`; a stray .bin is an unfinished one.
          .map((name) => /^snap-(\d+)\.json$/.exec(name)?.[1])
          .filter((v) => v !== undefined)
          .map(Number),
      ),
    ].sort((a, b) => b - a);
    for (const index of indices.slice(this.keep)) {
      await rm(this.dataPath(index), { force: true });
      await rm(join(this.dir, `snap-${index}.json`), { force: true });
    }
    // Unfinished snapshots (a .bin without metadata) older than the oldest kept one.
    const oldestKept = indices[Math.min(this.keep, indices.length) - 1] ?? 0;
    for (const name of names) {
      const index = Number(/^snap-(\d+)\.bin$/.exec(name)?.[1] ?? Number.NaN);
      if (index < oldestKept && !indices.includes(index))
        await rm(join(this.dir, name), { force: true });
    }
  }
}

/**
 * fsync a directory, so that the renames into it survive a power loss. Where the platform or
 * file system cannot sync a directory (Windows, some network and FUSE file systems), there is
 * nothing more to do: the files themselves are synced.
 */
async function syncDirectory(dir: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(dir, "r");
  } catch (error) {
    if (unsupported(error)) return;
    throw error;
  }
  try {
    await handle.sync();
  } catch (error) {
    if (!unsupported(error)) throw error;
  } finally {
    await handle.close();
  }
}

function unsupported(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === "EISDIR" || code === "EINVAL" || code === "ENOTSUP" || code === "EPERM";
}
