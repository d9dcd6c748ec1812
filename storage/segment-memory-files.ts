import type { SegmentFile, SegmentFiles } from "./segment-files.js";

/** A change to a file's bytes, in the page cache until a datasync of that file. */
type DataOp =
  | { readonly kind: "write"; readonly bytes: Uint8Array; readonly position: number }
  | { readonly kind: "truncate"; readonly length: number };

interface Inode {
  /** On the platter: what a power loss leaves. */
  durable: Uint8Array;
  /** What reads see: the platter with `pending` on top. */
  live: Uint8Array;
  pending: DataOp[];
  /** How many of `pending` a datasync in flight covers (0: none in flight). */
  syncing: number;
}

/** What a power loss did to the file data in the page cache. */
export interface FilesLoss {
  lost: number;
  torn: number;
}

/**
 * One directory of files on remu's disk (storage/memory-disk.ts), for the segment WAL
 * (storage/segment-files.ts). Writes and truncates land in a page cache; a file's datasync
 * puts its cached changes on the platter; creating and unlinking a name is durable only after
 * a directory fsync. At a power loss the cache is gone: a datasync in flight may leave a torn
 * prefix of its changes, and a random prefix of the unsynced name changes survives (a
 * journalling file system commits them in order).
 */
export class MemoryFiles {
  private durableDir = new Map<string, Inode>();
  private liveDir = new Map<string, Inode>();
  private pendingDir: { readonly name: string; readonly inode: Inode | null }[] = [];

  /**
   * The directory as one life of a node sees it. `alive` never settles once that life ended;
   * `sync` waits out one fsync (its delay, a power loss meanwhile, EIO).
   */
  port(alive: () => Promise<void>, sync: () => Promise<void>): SegmentFiles {
    return {
      list: async () => {
        await alive();
        return [...this.liveDir.keys()];
      },
      readWhole: async (name) => {
        await alive();
        return this.inode(name).live.slice();
      },
      open: async (name, mode) => {
        await alive();
        if (mode === "append") return this.handle(this.inode(name), alive, sync);
        if (this.liveDir.has(name)) throw fsError("EEXIST", `file already exists, open '${name}'`);
        const inode = {
          durable: new Uint8Array(0),
          live: new Uint8Array(0),
          pending: [],
          syncing: 0,
        };
        this.liveDir.set(name, inode);
        this.pendingDir.push({ name, inode });
        return this.handle(inode, alive, sync);
      },
      unlink: async (name) => {
        await alive();
        this.inode(name);
        this.liveDir.delete(name);
        this.pendingDir.push({ name, inode: null });
      },
      syncDir: async () => {
        await alive();
        const upTo = this.pendingDir.length;
        await sync();
        this.linkDurably(this.pendingDir.splice(0, upTo));
      },
    };
  }

  /** The page cache is gone; `random` picks what a sync in flight and the journal kept. */
  powerLoss(random: () => number, tornWriteRate: number): FilesLoss {
    const loss = { lost: 0, torn: 0 };
    const inodes = new Set([...this.liveDir.values(), ...this.durableDir.values()]);
    for (const inode of inodes) {
      if (inode.syncing > 0 && random() < tornWriteRate) {
        inode.durable = applyOps(inode.durable, tornPrefix(inode.pending, inode.syncing, random));
        loss.torn++;
      } else if (inode.pending.length > 0) loss.lost++;
    }
    if (this.pendingDir.length > 0)
      this.linkDurably(
        this.pendingDir.slice(0, Math.floor(random() * (this.pendingDir.length + 1))),
      );
    this.pendingDir = [];
    this.liveDir = new Map(this.durableDir);
    for (const inode of this.liveDir.values()) {
      inode.live = inode.durable.slice();
      inode.pending = [];
      inode.syncing = 0;
    }
    return loss;
  }

  private handle(inode: Inode, alive: () => Promise<void>, sync: () => Promise<void>): SegmentFile {
    const change = async (op: DataOp) => {
      await alive();
      inode.live = applyOps(inode.live, [op]);
      inode.pending.push(op);
    };
    return {
      write: async (buffer, offset, length, position) => {
        // Copied, as the kernel copies into its page cache (a Buffer's slice would be a view).
        const bytes = new Uint8Array(buffer.subarray(offset, offset + length));
        await change({ kind: "write", bytes, position });
        return { bytesWritten: length };
      },
      truncate: (length) => change({ kind: "truncate", length }),
      datasync: async () => {
        await alive();
        const upTo = inode.pending.length;
        inode.syncing = upTo;
        try {
          await sync();
        } finally {
          inode.syncing = 0;
        }
        inode.durable = applyOps(inode.durable, inode.pending.splice(0, upTo));
      },
      close: alive,
    };
  }

  private inode(name: string): Inode {
    const inode = this.liveDir.get(name);
    if (inode === undefined) throw fsError("ENOENT", `no such file or directory, '${name}'`);
    return inode;
  }

  private linkDurably(ops: readonly { name: string; inode: Inode | null }[]): void {
    for (const { name, inode } of ops) {
      if (inode === null) this.durableDir.delete(name);
      else this.durableDir.set(name, inode);
    }
  }
}

/** A strict prefix of the first `covered` ops: whole ops, then part of the next write. */
function tornPrefix(ops: readonly DataOp[], covered: number, random: () => number): DataOp[] {
  const whole = Math.floor(random() * covered);
  const kept = ops.slice(0, whole);
  const next = ops[whole];
  if (next?.kind === "write" && next.bytes.length > 1) {
    const cut = Math.floor(random() * next.bytes.length);
    kept.push({ ...next, bytes: next.bytes.subarray(0, cut) });
  }
  return kept;
}

/** `bytes` changed by `ops`: in place when it fits, else in a new array (zeros past the end). */
function applyOps(bytes: Uint8Array, ops: readonly DataOp[]): Uint8Array {
  let out = bytes;
  for (const op of ops) {
    const length =
      op.kind === "truncate" ? op.length : Math.max(out.length, op.position + op.bytes.length);
    if (length !== out.length) {
      const resized = new Uint8Array(length);
      resized.set(out.subarray(0, Math.min(length, out.length)));
      out = resized;
    }
    if (op.kind === "write") out.set(op.bytes, op.position);
  }
  return out;
}

function fsError(code: string, message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}
