import { ClassicLevel } from "classic-level";
import {
  compareKeys,
  type EngineStats,
  evaluate,
  type KvCommand,
  type KvEngine,
  type KvItem,
  type KvRange,
  type KvResult,
  type Sidecar,
} from "./engine.js";
import { readKvCheckpoint, writeKvCheckpoint } from "./kv-checkpoint.js";
import {
  FORMAT,
  FORMAT_KEY,
  findDamage,
  KvDamageError,
  markDamaged,
  openValue,
  sealHolds,
  sealValue,
  setAside,
} from "./kv-level-integrity.js";

const DATA_PREFIX = "d:";
const APPLIED_KEY = "m:applied";
const decoder = new TextDecoder();

/**
 * KV state in LevelDB. The applied index is written in the same batch as the data, so after
 * a crash the engine knows exactly which log entries to replay. Writes are not synced: the
 * WAL is the durable record, and a checkpoint file is synced before the log is compacted.
 * Every value is sealed with a checksum (kv-level-integrity.ts): damage is never served.
 */
export class LevelKvEngine implements KvEngine {
  readonly name = "level";
  appliedIndex = 0;
  /** Why the engine was emptied at open and must be rebuilt from the snapshot and log, or null. */
  rebuild: string | null = null;
  /** Made by open(): abstract-level starts opening a database as soon as it is constructed. */
  private db!: ClassicLevel<string, string>;
  private applied = 0;

  /** verifyAtOpen (default true): read every record once at open (off only in tests). */
  constructor(
    readonly dir: string,
    private readonly options: { readonly verifyAtOpen?: boolean } = {},
  ) {}

  async open(): Promise<void> {
    // Checked before LevelDB opens: its recovery would drop a damaged log block for good.
    const damage = await findDamage(this.dir);
    if (damage !== null) await this.setAside(damage);
    await this.openDb();
    // Every record, once: a damaged key or table block would otherwise read as "not found".
    const bad = this.options.verifyAtOpen === false ? null : await this.findBadRecord();
    if (bad !== null) {
      await this.db.close();
      await this.setAside(bad);
      await this.openDb();
    }
    const applied = this.read(APPLIED_KEY, (await this.db.get(APPLIED_KEY)) ?? null);
    this.appliedIndex = Number(applied ?? 0);
  }

  private async setAside(damage: string): Promise<void> {
    this.rebuild = `damaged (${damage}); the damaged copy is kept in ${await setAside(this.dir)}`;
  }

  private async openDb(): Promise<void> {
    this.db = new ClassicLevel<string, string>(this.dir, {
      keyEncoding: "utf8",
      valueEncoding: "utf8",
    });
    await this.db.open();
    const format = await this.db.get(FORMAT_KEY);
    if (format === undefined) {
      // Empty, or written before values carried checksums: those are not trusted, and the
      // state comes back from the snapshot and the log (a crash here leaves it empty: same).
      if (await this.hasData()) {
        await this.db.clear();
        this.rebuild ??= "written before values carried checksums";
      }
      await this.db.put(FORMAT_KEY, sealValue(FORMAT_KEY, FORMAT), { sync: true });
    } else if (this.read(FORMAT_KEY, format) !== FORMAT) {
      throw new KvDamageError(`${this.dir}: unknown KV engine format ${JSON.stringify(format)}`);
    }
  }

  /** The first record failing its checksum (or unreadable), or null. */
  private async findBadRecord(): Promise<string | null> {
    const iterator = this.db.iterator<Uint8Array, Uint8Array>({
      keyEncoding: "view",
      valueEncoding: "view",
      fillCache: false,
      highWaterMarkBytes: 1 << 20,
    });
    try {
      for (;;) {
        const records = await iterator.nextv(10_000);
        if (records.length === 0) break;
        for (const [key, value] of records) {
          if (!sealHolds(key, value))
            return `the record ${JSON.stringify(decoder.decode(key.subarray(0, 200)))} fails its checksum`;
        }
      }
    } catch (error) {
      return `reading it failed: ${(error as Error).message}`;
    } finally {
      await iterator.close().catch(() => {});
    }
    return null;
  }

  private async hasData(): Promise<boolean> {
    for await (const _ of this.db.keys({ limit: 1 })) return true;
    return false;
  }

  /**
   * A stored value, checked; damage marks the engine for a rebuild at the next start and
   * throws (the caller's failure stops the node: it must not go on from a damaged state).
   */
  private read(dbKey: string, stored: string | null): string | null {
    if (stored === null) return null;
    const value = openValue(dbKey, stored);
    if (value !== null) return value;
    const reason = `the value of ${JSON.stringify(dbKey.slice(0, 200))} fails its checksum`;
    try {
      markDamaged(this.dir, reason);
    } catch {
      // Best effort: the error below still stops the node, and the value is not served.
    }
    throw new KvDamageError(`the KV engine in ${this.dir} is damaged: ${reason}`);
  }

  async applyBatch(
    commands: readonly { index: number; command: KvCommand }[],
    lastIndex: number,
    sidecar?: Sidecar,
  ): Promise<KvResult[]> {
    const overlay = new Map<string, string | null>();
    const ops: { type: "put" | "del"; key: string; value?: string }[] = [];
    const results: KvResult[] = [];
    // One getMany for every key whose current value matters (a put does not read it).
    const keys = [
      ...new Set(
        commands.filter(({ command }) => command.op !== "put").map(({ command }) => command.key),
      ),
    ];
    if (keys.length > 0) {
      const values = await this.db.getMany(keys.map((key) => DATA_PREFIX + key));
      keys.forEach((key, k) => {
        overlay.set(key, this.read(DATA_PREFIX + key, values[k] ?? null));
      });
    }
    for (const { index, command } of commands) {
      const current = overlay.get(command.key) ?? null;
      const { result, next } = evaluate(command, current);
      results.push(result);
      if (index <= this.appliedIndex || next === undefined) continue;
      overlay.set(command.key, next);
      ops.push(
        next === null
          ? { type: "del", key: DATA_PREFIX + command.key }
          : {
              type: "put",
              key: DATA_PREFIX + command.key,
              value: sealValue(DATA_PREFIX + command.key, next),
            },
      );
      this.applied++;
    }
    if (lastIndex > this.appliedIndex) {
      for (const { key, value } of sidecar?.(results) ?? []) {
        ops.push(
          value === null
            ? { type: "del", key: DATA_PREFIX + key }
            : { type: "put", key: DATA_PREFIX + key, value: sealValue(DATA_PREFIX + key, value) },
        );
      }
      ops.push({
        type: "put",
        key: APPLIED_KEY,
        value: sealValue(APPLIED_KEY, String(lastIndex)),
      });
      await this.db.batch(ops as never);
      this.appliedIndex = lastIndex;
    }
    return results;
  }

  async get(key: string): Promise<string | null> {
    return this.read(DATA_PREFIX + key, (await this.db.get(DATA_PREFIX + key)) ?? null);
  }

  async scan(range: KvRange): Promise<KvItem[]> {
    const prefix = range.prefix ?? "";
    const lower =
      range.start !== undefined && compareKeys(range.start, prefix) > 0 ? range.start : prefix;
    const out: KvItem[] = [];
    // The end bound is range.end; a prefix ends the scan at the first key without it (no
    // "prefix + 1" arithmetic, which UTF-16 surrogates and U+FFFF make wrong).
    const iterator = this.db.iterator({
      gte: DATA_PREFIX + lower,
      lt: range.end === undefined ? prefixEnd(DATA_PREFIX) : DATA_PREFIX + range.end,
    });
    for await (const [dataKey, value] of iterator) {
      const key = dataKey.slice(DATA_PREFIX.length);
      if (!key.startsWith(prefix)) break;
      out.push({ key, value: this.read(dataKey, value)! });
      if (out.length >= range.limit) break;
    }
    return out;
  }

  /** A consistent copy: a LevelDB iterator reads from an implicit snapshot taken when created. */
  checkpoint(path: string, signal?: AbortSignal): Promise<number> {
    const iterator = this.db.iterator({ gte: DATA_PREFIX, lt: prefixEnd(DATA_PREFIX) });
    const read = (key: string, value: string) => this.read(key, value)!;
    return writeKvCheckpoint(
      path,
      (async function* () {
        for await (const [key, value] of iterator)
          yield { key: key.slice(DATA_PREFIX.length), value: read(key, value) };
      })(),
      signal,
    );
  }

  async restore(path: string, index: number): Promise<void> {
    // Read (and so verify) the whole checkpoint before touching the current state.
    const items: KvItem[] = [];
    for await (const item of readKvCheckpoint(path)) items.push(item);
    // The applied index goes first (LevelDB keeps write order), the format marker stays: a
    // crash mid-restore leaves an engine at applied index 0, restored again at the next start.
    await this.db.del(APPLIED_KEY);
    await this.db.clear({ gte: DATA_PREFIX, lt: prefixEnd(DATA_PREFIX) });
    for (let k = 0; k < items.length; k += 10_000) {
      const ops = items.slice(k, k + 10_000).map(({ key, value }) => ({
        type: "put" as const,
        key: DATA_PREFIX + key,
        value: sealValue(DATA_PREFIX + key, value),
      }));
      await this.db.batch(ops);
    }
    await this.db.batch(
      [{ type: "put", key: APPLIED_KEY, value: sealValue(APPLIED_KEY, String(index)) }],
      { sync: true },
    );
    this.appliedIndex = index;
  }

  stats(): EngineStats {
    return { appliedIndex: this.appliedIndex, commandsApplied: this.applied };
  }

  async close(): Promise<void> {
    await this.db?.close();
  }
}

/** The smallest string greater than every string starting with `prefix`. */
function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}
