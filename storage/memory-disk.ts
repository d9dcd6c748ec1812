import type { SegmentFiles } from "./segment-files.js";
import { MemoryFiles } from "./segment-memory-files.js";
import type { WalDb, WalDbOp } from "./wal.js";

/** The first byte of an entry's key (storage/wal.ts). */
const entryPrefix = 0x65;

/** What the disk does to writes; probabilities are per synced batch. */
export interface DiskFaults {
  /** The sync fails (EIO): the batch may or may not be on the platter; the node must stop. */
  readonly fsyncFailRate: number;
  /** How long a sync takes (slow fsync): a power loss meanwhile loses or tears the batch. */
  readonly fsyncMinMs: number;
  readonly fsyncMaxMs: number;
  /** At a power loss, the probability that the batch being synced is torn, not lost whole. */
  readonly tornWriteRate: number;
}

export const healthyDisk: DiskFaults = {
  fsyncFailRate: 0,
  fsyncMinMs: 0,
  fsyncMaxMs: 0,
  tornWriteRate: 0,
};

/** What one life of a node gives its disk: a wait on its clock, and a random source. */
export interface DiskIo {
  sleep(ms: number): Promise<void>;
  /** Uniform in [0, 1). */
  random(): number;
}

export interface DiskStats {
  syncs: number;
  failedSyncs: number;
  /** Batches lost whole at a power loss (written, never synced). */
  lostBatches: number;
  /** Batches torn at a power loss: a prefix on the platter, its last record cut short. */
  tornBatches: number;
  corrupted: number;
}

interface Record {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

/**
 * remu's disk, surviving a node's crashes: a directory of files for the segment WAL
 * (`files`, storage/segment-memory-files.ts), and an ordered byte store for the LevelDB-shaped
 * WAL (`open`, storage/wal.ts); the same WAL code as in a node. Writes land in a page cache first; a synced
 * batch reaches the platter after its fsync delay; a power loss drops the cache — the batch in
 * flight is lost whole, or torn (a prefix kept, its last value cut: the WAL's checksums must
 * find it). `corrupt` flips a byte of a stored record.
 */
export class MemoryDisk {
  private readonly platter = new Map<string, Record>();
  /** Written, not synced: what reads see on top of the platter until a power loss. */
  private cache: { ops: WalDbOp[]; syncing: boolean }[] = [];
  private readonly dir = new MemoryFiles();
  private life = 0;
  faults: DiskFaults = healthyDisk;
  /** A sync started and takes `delayMs`: remu may cut the power meanwhile. */
  onSync: ((delayMs: number) => void) | null = null;
  readonly stats: DiskStats = {
    syncs: 0,
    failedSyncs: 0,
    lostBatches: 0,
    tornBatches: 0,
    corrupted: 0,
  };

  /** The store as one life of a node sees it; a power loss ends that life's view. */
  open(io: DiskIo): WalDb {
    const alive = this.newLife();
    return {
      get: async (key) => {
        await alive();
        return this.read(hex(key));
      },
      put: (key, value, options) => this.write(io, alive, [{ type: "put", key, value }], options),
      batch: (ops, options) => this.write(io, alive, [...ops], options),
      iterator: (range) => this.scan(hex(range.gt), hex(range.lt), alive),
      clear: async (range) => {
        const ops: WalDbOp[] = [];
        for (const record of this.view().values()) {
          const k = hex(record.key);
          if (k >= hex(range.gte) && k <= hex(range.lte))
            ops.push({ type: "del", key: record.key });
        }
        await this.write(io, alive, ops, { sync: false });
      },
      close: async () => {},
    };
  }

  /** The segment WAL's directory as one life of a node sees it (its syncs take `io`'s time). */
  files(io: DiskIo): SegmentFiles {
    const alive = this.newLife();
    return this.dir.port(alive, () => this.syncWait(io, alive));
  }

  /**
   * Power loss: the cache is gone. The batch being synced is lost, or torn when `random` says
   * so; the last life's view stops answering.
   */
  powerLoss(random: () => number): void {
    this.life++;
    for (const batch of this.cache) {
      if (batch.syncing && batch.ops.length > 0 && random() < this.faults.tornWriteRate) {
        this.tear(batch.ops, random);
        this.stats.tornBatches++;
      } else this.stats.lostBatches++;
    }
    this.cache = [];
    const files = this.dir.powerLoss(random, this.faults.tornWriteRate);
    this.stats.lostBatches += files.lost;
    this.stats.tornBatches += files.torn;
  }

  /** Flip one byte of the stored record at `key` (a disk fault); false if there is none. */
  corrupt(key: Uint8Array, byte: number): boolean {
    const record = this.platter.get(hex(key));
    if (record === undefined || record.value.length === 0) return false;
    const value = Uint8Array.from(record.value);
    const at = byte % value.length;
    value[at] = (value[at] ?? 0) ^ 0xff;
    this.platter.set(hex(key), { key: record.key, value });
    this.stats.corrupted++;
    return true;
  }

  private async write(
    io: DiskIo,
    alive: () => Promise<void>,
    ops: WalDbOp[],
    options: { sync: boolean },
  ): Promise<void> {
    await alive();
    const batch = { ops, syncing: options.sync };
    this.cache.push(batch);
    if (!options.sync) return;
    await this.syncWait(io, alive);
    // fsync flushes everything written before it too.
    const upTo = this.cache.indexOf(batch);
    for (const done of this.cache.splice(0, upTo + 1)) this.apply(done.ops);
  }

  /** A view for a new life of the node; the previous life's calls stop answering. */
  private newLife(): () => Promise<void> {
    const life = ++this.life;
    // A dead life's calls never settle: its process is gone, nothing may follow them.
    return async () => {
      if (life !== this.life) await new Promise(() => {});
    };
  }

  /** One fsync: its delay (remu may cut the power meanwhile), then EIO or done. */
  private async syncWait(io: DiskIo, alive: () => Promise<void>): Promise<void> {
    const { fsyncMinMs, fsyncMaxMs, fsyncFailRate } = this.faults;
    const delay = fsyncMinMs + Math.floor(io.random() * (fsyncMaxMs - fsyncMinMs + 1));
    this.onSync?.(delay);
    if (delay > 0) await io.sleep(delay);
    await alive();
    if (io.random() < fsyncFailRate) {
      this.stats.failedSyncs++;
      throw new Error("EIO: fsync failed");
    }
    this.stats.syncs++;
  }

  /**
   * A strict prefix of the ops reaches the platter, its last entry record cut short. (The
   * batch's last op, the hard state, is never in it: LevelDB writes a batch as one checksummed
   * log record, so only the WAL's own per-record checks are tested here.)
   */
  private tear(ops: readonly WalDbOp[], random: () => number): void {
    const kept = ops.slice(0, Math.floor(random() * ops.length));
    const last = kept.at(-1);
    if (last?.type === "put" && last.key[0] === entryPrefix && last.value.length > 1) {
      const cut = Math.floor(random() * last.value.length);
      kept[kept.length - 1] = { ...last, value: last.value.subarray(0, cut) };
    }
    this.apply(kept);
  }

  private apply(ops: readonly WalDbOp[], into = this.platter): void {
    for (const op of ops) {
      if (op.type === "put") into.set(hex(op.key), { key: op.key, value: op.value });
      else into.delete(hex(op.key));
    }
  }

  /** The platter with the cache on top: what reads see. */
  private view(): Map<string, Record> {
    if (this.cache.length === 0) return this.platter;
    const view = new Map(this.platter);
    for (const batch of this.cache) this.apply(batch.ops, view);
    return view;
  }

  private read(key: string): Uint8Array | undefined {
    return this.view().get(key)?.value;
  }

  private async *scan(
    from: string,
    to: string,
    alive: () => Promise<void>,
  ): AsyncIterable<[Uint8Array, Uint8Array]> {
    await alive();
    const view = this.view();
    const keys = [...view.keys()].filter((k) => k > from && k < to).sort();
    for (const k of keys) {
      const record = view.get(k)!;
      yield [record.key, record.value];
    }
  }
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}
