import { ClassicLevel } from "classic-level";
import { compareKeys, type EngineStats, type KeySpan } from "./engine.js";
import type { BackendBatch, BackendContents, KvBackend, StoredState } from "./kv-backend.js";
import { KeyCache } from "./kv-key-cache.js";
import {
  FORMAT,
  FORMAT_KEY,
  findDamage,
  KvDamageError,
  markDamaged,
  openBytes,
  sealHolds,
  setAside,
} from "./kv-level-integrity.js";
import {
  type LevelOp,
  migrateBareValues,
  migrateJsonHistory,
  prefixEnd,
  sealedPut,
  sealedText,
  text,
} from "./kv-level-migrate.js";
import {
  APPLIED_KEY,
  changesRecords,
  DATA_PREFIX,
  decodeEvent,
  decodeKv,
  encodeKv,
  eventKey,
  eventRevision,
  groupChanges,
  HISTORY_PREFIX,
  HISTORY_STATE_KEY,
  type HistoryState,
  historyKey,
  historyStateRecord,
  kvRecord,
  type StoredRecord,
} from "./kv-stored.js";
import { type HistorySettings, RevisionEngine } from "./revision-store.js";
import type { KeyValue, KvChanges } from "./revisions.js";

/** Format "2": values sealed but without metadata or history; "3": history as JSON. */
const FORMAT_BARE_VALUES = "2";
const FORMAT_JSON_HISTORY = "3";
const decoder = new TextDecoder();
const DEFAULT_KEY_CACHE_BYTES = 32 << 20;

interface LevelOptions {
  /** Read every record once at open (default true; off only in tests). */
  readonly verifyAtOpen?: boolean;
  /** Bound of the in-memory key cache (kv-key-cache.ts); 0 turns it off. */
  readonly keyCacheBytes?: number;
}

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
  private db!: ClassicLevel<string, Uint8Array>;
  /** The current keys as last written or read: a put's read of its key, mostly spared. */
  private readonly cache: KeyCache;
  /** Bumped by every write: a read that spans one does not cache what it found. */
  private writes = 0;

  constructor(
    readonly dir: string,
    private readonly options: LevelOptions = {},
  ) {
    this.cache = new KeyCache(options.keyCacheBytes ?? DEFAULT_KEY_CACHE_BYTES);
  }

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
    const appliedIndex = Number(text(this.read(APPLIED_KEY, await this.db.get(APPLIED_KEY))) ?? 0);
    const history = text(this.read(HISTORY_STATE_KEY, await this.db.get(HISTORY_STATE_KEY)));
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
    this.db = new ClassicLevel<string, Uint8Array>(this.dir, {
      keyEncoding: "utf8",
      valueEncoding: "view",
    });
    await this.db.open();
    const format = text(this.read(FORMAT_KEY, await this.db.get(FORMAT_KEY)));
    const read = this.read.bind(this);
    if (format === null) {
      // Empty, or written before values carried checksums: those are not trusted, and the
      // state comes back from the snapshot and the log (a crash here leaves it empty: same).
      if (await this.hasData()) {
        await this.db.clear();
        this.rebuild ??= "written before values carried checksums";
      }
      await this.db.batch([sealedText(FORMAT_KEY, FORMAT)], { sync: true });
    } else if (format === FORMAT_BARE_VALUES) {
      await migrateBareValues(this.db, read);
    } else if (format === FORMAT_JSON_HISTORY) {
      await migrateJsonHistory(this.db, read);
    } else if (format !== FORMAT) {
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
  private read(dbKey: string, stored: Uint8Array | undefined): Uint8Array | null {
    if (stored === undefined) return null;
    const value = openBytes(dbKey, stored);
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
    const out = keys.map((key) => this.cache.get(key));
    const missing = keys.filter((_, k) => out[k] === undefined);
    if (missing.length === 0) return out as (KeyValue | null)[];
    const writes = this.writes;
    const values = await this.db.getMany(missing.map((key) => DATA_PREFIX + key));
    const found = new Map<string, KeyValue | null>();
    missing.forEach((key, k) => {
      const stored = this.read(DATA_PREFIX + key, values[k]);
      found.set(key, stored === null ? null : decodeKv(key, decoder.decode(stored)));
    });
    // A write that landed during the read may be newer than what it found.
    if (writes === this.writes) for (const [key, kv] of found) this.cache.set(key, kv);
    return keys.map((key, k) => out[k] ?? found.get(key) ?? null);
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
      yield decodeKv(key, decoder.decode(this.read(dataKey, value)!));
    }
  }

  changes(fromRevision: number): AsyncGenerator<KvChanges> {
    const iterator = this.db.iterator({
      gte: historyKey(Math.max(0, fromRevision)),
      lt: prefixEnd(HISTORY_PREFIX),
    });
    const read = this.read.bind(this);
    return groupChanges(
      (async function* () {
        for await (const [key, value] of iterator) {
          const revision = eventRevision(key);
          yield { revision, event: decodeEvent(read(key, value)!, revision) };
        }
      })(),
    );
  }

  async write(batch: BackendBatch): Promise<void> {
    const ops: LevelOp[] = [];
    for (const kv of batch.puts) ops.push(sealedText(DATA_PREFIX + kv.key, encodeKv(kv)));
    for (const key of batch.deletes) ops.push({ type: "del", key: DATA_PREFIX + key });
    for (const changes of batch.changes)
      for (const record of changesRecords(changes)) ops.push(sealedPut(record));
    for (const { revision, events } of batch.dropped)
      for (let seq = 0; seq < events; seq++)
        ops.push({ type: "del", key: eventKey(revision, seq) });
    ops.push(sealedPut(historyStateRecord(batch.state.history)));
    ops.push(sealedText(APPLIED_KEY, String(batch.state.appliedIndex)));
    this.writes++;
    await this.db.batch(ops);
    for (const kv of batch.puts) this.cache.set(kv.key, kv);
    for (const key of batch.deletes) this.cache.set(key, null);
  }

  /**
   * A consistent copy: a LevelDB iterator reads from an implicit snapshot taken when created.
   * Read in slices (nextv): an iterator's per-entry next() cost more than the entries.
   */
  pin(): AsyncGenerator<StoredRecord> {
    const iterator = this.db.iterator({
      gte: DATA_PREFIX,
      lt: prefixEnd("m:"),
      fillCache: false,
      highWaterMarkBytes: 1 << 20,
    });
    const read = this.read.bind(this);
    return (async function* () {
      try {
        for (;;) {
          const entries = await iterator.nextv(1000);
          if (entries.length === 0) break;
          for (const [key, value] of entries) {
            if (key === APPLIED_KEY || key === FORMAT_KEY) continue;
            yield { key, value: read(key, value)! };
          }
        }
      } finally {
        await iterator.close();
      }
    })();
  }

  async replace(contents: BackendContents): Promise<void> {
    // The applied index goes first (LevelDB keeps write order), the format marker stays: a
    // crash mid-restore leaves an engine at applied index 0, restored again at the next start.
    this.cache.clear();
    this.writes++;
    await this.db.del(APPLIED_KEY);
    await this.db.clear({ gte: DATA_PREFIX, lt: prefixEnd(DATA_PREFIX) });
    await this.db.clear({ gte: HISTORY_PREFIX, lt: prefixEnd(HISTORY_PREFIX) });
    let ops: LevelOp[] = [];
    const flushAt = async (size: number) => {
      if (ops.length < size) return;
      await this.db.batch(ops);
      ops = [];
    };
    for (const kv of contents.kvs) {
      ops.push(sealedPut(kvRecord(kv)));
      await flushAt(10_000);
    }
    for (const changes of contents.changes) {
      for (const record of changesRecords(changes)) ops.push(sealedPut(record));
      await flushAt(10_000);
    }
    ops.push(sealedPut(historyStateRecord(contents.state.history)));
    await flushAt(1);
    await this.db.batch([sealedText(APPLIED_KEY, String(contents.state.appliedIndex))], {
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
    options: LevelOptions & { readonly history?: HistorySettings } = {},
  ) {
    super(new LevelBackend(dir, options), options.history);
  }
}
