import { ClassicLevel } from "classic-level";
import { compareKeys, type EngineStats, type KeySpan } from "./engine.js";
import type { BackendBatch, BackendContents, KvBackend, StoredState } from "./kv-backend.js";
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
import {
  DATA_PREFIX,
  decodeKv,
  encodeKv,
  encodeRecord,
  HISTORY_PREFIX,
  HISTORY_STATE_KEY,
  type HistoryState,
  historyKey,
  legacyKv,
} from "./kv-stored.js";
import { type HistorySettings, RevisionEngine } from "./revision-store.js";
import type { KeyValue, KvChanges } from "./revisions.js";

const APPLIED_KEY = "m:applied";
/** Format "2": values sealed but without metadata or history (migrated at open). */
const FORMAT_BARE_VALUES = "2";
const decoder = new TextDecoder();

type LevelOp = { type: "put"; key: string; value: string } | { type: "del"; key: string };

/**
 * Keys with their metadata, the kept history ("h:" records) and the state markers in LevelDB
 * (layout: kv-stored.ts). The applied index and the history are written in the same batch as
 * the data, so after a crash the engine knows exactly which log entries to replay. Writes are
 * not synced: the WAL is the durable record, and a checkpoint file is synced before the log
 * is compacted. Every value is sealed with a checksum (kv-level-integrity.ts): damage is
 * never served.
 */
class LevelBackend implements KvBackend {
  readonly name = "level";
  /** Why the engine was emptied at open and must be rebuilt from the snapshot and log, or null. */
  rebuild: string | null = null;
  /** Made by open(): abstract-level starts opening a database as soon as it is constructed. */
  private db!: ClassicLevel<string, string>;

  /** verifyAtOpen (default true): read every record once at open (off only in tests). */
  constructor(
    readonly dir: string,
    private readonly options: { readonly verifyAtOpen?: boolean } = {},
  ) {}

  async open(): Promise<StoredState> {
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
    return this.storedState();
  }

  private async storedState(): Promise<StoredState> {
    const appliedIndex = Number(
      this.read(APPLIED_KEY, (await this.db.get(APPLIED_KEY)) ?? null) ?? 0,
    );
    const history = this.read(HISTORY_STATE_KEY, (await this.db.get(HISTORY_STATE_KEY)) ?? null);
    return {
      appliedIndex,
      history:
        history === null
          ? { compactedRevision: appliedIndex, historyBytes: 0 }
          : (JSON.parse(history) as HistoryState),
    };
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
    } else if (this.read(FORMAT_KEY, format) === FORMAT_BARE_VALUES) {
      await this.migrateBareValues();
    } else if (this.read(FORMAT_KEY, format) !== FORMAT) {
      throw new KvDamageError(`${this.dir}: unknown KV engine format ${JSON.stringify(format)}`);
    }
  }

  /**
   * Format 2 → 3: each bare value gets the metadata of a value applied at the engine's applied
   * index (legacyKv), and the history starts there. One atomic batch: a crash leaves format 2.
   */
  private async migrateBareValues(): Promise<void> {
    const applied = Number(this.read(APPLIED_KEY, (await this.db.get(APPLIED_KEY)) ?? null) ?? 0);
    const ops: LevelOp[] = [];
    for await (const [dbKey, stored] of this.db.iterator({
      gte: DATA_PREFIX,
      lt: prefixEnd(DATA_PREFIX),
    })) {
      const kv = legacyKv(dbKey.slice(DATA_PREFIX.length), this.read(dbKey, stored)!, applied);
      ops.push(sealed(dbKey, encodeKv(kv)));
    }
    const history: HistoryState = { compactedRevision: applied, historyBytes: 0 };
    ops.push(sealed(HISTORY_STATE_KEY, JSON.stringify(history)));
    ops.push(sealed(FORMAT_KEY, FORMAT));
    await this.db.batch(ops, { sync: true });
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

  async get(keys: readonly string[]): Promise<(KeyValue | null)[]> {
    const values = await this.db.getMany(keys.map((key) => DATA_PREFIX + key));
    return keys.map((key, k) => {
      const stored = this.read(DATA_PREFIX + key, values[k] ?? null);
      return stored === null ? null : decodeKv(key, stored);
    });
  }

  async *range(span: KeySpan): AsyncGenerator<KeyValue> {
    const prefix = span.prefix ?? "";
    const lower =
      span.start !== undefined && compareKeys(span.start, prefix) > 0 ? span.start : prefix;
    // The end bound is span.end; a prefix ends the scan at the first key without it (no
    // "prefix + 1" arithmetic, which UTF-16 surrogates and U+FFFF make wrong).
    const iterator = this.db.iterator({
      gte: DATA_PREFIX + lower,
      lt: span.end === undefined ? prefixEnd(DATA_PREFIX) : DATA_PREFIX + span.end,
    });
    for await (const [dataKey, value] of iterator) {
      const key = dataKey.slice(DATA_PREFIX.length);
      if (!key.startsWith(prefix)) break;
      yield decodeKv(key, this.read(dataKey, value)!);
    }
  }

  async *changes(fromRevision: number): AsyncGenerator<KvChanges> {
    const iterator = this.db.iterator({
      gte: historyKey(Math.max(0, fromRevision)),
      lt: prefixEnd(HISTORY_PREFIX),
    });
    for await (const [key, value] of iterator)
      yield JSON.parse(this.read(key, value)!) as KvChanges;
  }

  async write(batch: BackendBatch): Promise<void> {
    const ops: LevelOp[] = [];
    for (const kv of batch.puts) ops.push(sealed(DATA_PREFIX + kv.key, encodeKv(kv)));
    for (const key of batch.deletes) ops.push({ type: "del", key: DATA_PREFIX + key });
    for (const changes of batch.changes) {
      const { key, value } = encodeRecord({ kind: "changes", changes });
      ops.push(sealed(key, value));
    }
    for (const revision of batch.dropRevisions)
      ops.push({ type: "del", key: historyKey(revision) });
    ops.push(sealed(HISTORY_STATE_KEY, JSON.stringify(batch.state.history)));
    ops.push(sealed(APPLIED_KEY, String(batch.state.appliedIndex)));
    await this.db.batch(ops);
  }

  /** A consistent copy: a LevelDB iterator reads from an implicit snapshot taken when created. */
  pin(): AsyncGenerator<{ key: string; value: string }> {
    const iterator = this.db.iterator({ gte: DATA_PREFIX, lt: prefixEnd("m:") });
    const read = (key: string, value: string) => this.read(key, value)!;
    return (async function* () {
      for await (const [key, value] of iterator) {
        if (key === APPLIED_KEY || key === FORMAT_KEY) continue;
        yield { key, value: read(key, value) };
      }
    })();
  }

  async replace(contents: BackendContents): Promise<void> {
    // The applied index goes first (LevelDB keeps write order), the format marker stays: a
    // crash mid-restore leaves an engine at applied index 0, restored again at the next start.
    await this.db.del(APPLIED_KEY);
    await this.db.clear({ gte: DATA_PREFIX, lt: prefixEnd(DATA_PREFIX) });
    await this.db.clear({ gte: HISTORY_PREFIX, lt: prefixEnd(HISTORY_PREFIX) });
    const records = [
      ...contents.kvs.map((kv) => encodeRecord({ kind: "kv", kv })),
      ...contents.changes.map((changes) => encodeRecord({ kind: "changes", changes })),
      encodeRecord({ kind: "history", state: contents.state.history }),
    ];
    for (let k = 0; k < records.length; k += 10_000) {
      await this.db.batch(records.slice(k, k + 10_000).map(({ key, value }) => sealed(key, value)));
    }
    await this.db.batch([sealed(APPLIED_KEY, String(contents.state.appliedIndex))], {
      sync: true,
    });
  }

  stats(): EngineStats {
    return {};
  }

  async close(): Promise<void> {
    await this.db?.close();
  }
}

/** The LevelDB KV engine: the revision store over LevelBackend. */
export class LevelKvEngine extends RevisionEngine {
  /** verifyAtOpen (default true): read every record once at open (off only in tests). */
  constructor(
    readonly dir: string,
    options: { readonly verifyAtOpen?: boolean; readonly history?: HistorySettings } = {},
  ) {
    super(new LevelBackend(dir, options), options.history);
  }
}

function sealed(key: string, value: string): LevelOp {
  return { type: "put", key, value: sealValue(key, value) };
}

/** The smallest string greater than every string starting with `prefix`. */
function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}
