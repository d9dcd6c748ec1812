import { compareKeys, type EngineStats, type KeySpan } from "./engine.js";
import type { BackendBatch, BackendContents, KvBackend, StoredState } from "./kv-backend.js";
import { changesRecords, historyStateRecord, kvRecord, type StoredRecord } from "./kv-stored.js";
import { type HistorySettings, RevisionEngine } from "./revision-store.js";
import type { KeyValue, KvChanges } from "./revisions.js";

const EMPTY: StoredState = {
  appliedIndex: 0,
  history: { compactedRevision: 0, historyBytes: 0 },
};

/** Keys and history in memory: fast, and rebuilt from the last snapshot plus the log after a restart. */
class MemoryBackend implements KvBackend {
  readonly name = "memory";
  private values = new Map<string, KeyValue>();
  /** Keys in order, rebuilt lazily after writes: scans are rarer than writes. */
  private sortedKeys: string[] | null = null;
  /** The kept history in revision order; `head` changes at the front are forgotten. */
  private log: KvChanges[] = [];
  private head = 0;
  private state = EMPTY;

  async open(): Promise<StoredState> {
    return this.state;
  }

  async get(keys: readonly string[]): Promise<(KeyValue | null)[]> {
    return keys.map((key) => this.values.get(key) ?? null);
  }

  /** Collected now: the caller may await between items while batches apply. */
  range(span: KeySpan): KeyValue[] {
    this.sortedKeys ??= [...this.values.keys()].sort(compareKeys);
    const keys = this.sortedKeys;
    const prefix = span.prefix ?? "";
    const lower =
      span.start !== undefined && compareKeys(span.start, prefix) > 0 ? span.start : prefix;
    let at = lowerBound(keys, lower, compareKeys);
    const out: KeyValue[] = [];
    for (; at < keys.length; at++) {
      const key = keys[at]!;
      if (span.end !== undefined && compareKeys(key, span.end) >= 0) break;
      // Keys with the prefix are contiguous from it on, and lower >= prefix.
      if (!key.startsWith(prefix)) break;
      out.push(this.values.get(key)!);
    }
    return out;
  }

  /** Lazily: the caller often reads only the oldest few (compaction) or a recent tail. */
  *changes(fromRevision: number): Generator<KvChanges> {
    const log = this.log;
    const revisions = { length: log.length, at: (k: number) => log[k]!.revision };
    for (
      let at = Math.max(
        this.head,
        lowerBound(revisions, fromRevision, (a, b) => a - b),
      );
      at < log.length;
      at++
    )
      yield log[at]!;
  }

  async write(batch: BackendBatch): Promise<void> {
    for (const kv of batch.puts) {
      if (!this.values.has(kv.key)) this.sortedKeys = null;
      this.values.set(kv.key, kv);
    }
    for (const key of batch.deletes) if (this.values.delete(key)) this.sortedKeys = null;
    // Dropped revisions are always the oldest kept ones (revision-store.ts bound()).
    this.head += batch.dropped.length;
    this.log.push(...batch.changes);
    if (this.head > 1024 && this.head * 2 > this.log.length) {
      this.log = this.log.slice(this.head);
      this.head = 0;
    }
    this.state = batch.state;
  }

  /**
   * Pinned by reference (values and changes are never mutated, only replaced), encoded while
   * the file is written: the apply stage is not held up by encoding the whole state at once.
   */
  pin(): Generator<StoredRecord> {
    const kvs = [...this.values.values()];
    const log = this.log.slice(this.head);
    const history = this.state.history;
    return (function* () {
      for (const kv of kvs) yield kvRecord(kv);
      for (const changes of log) yield* changesRecords(changes);
      yield historyStateRecord(history);
    })();
  }

  async replace(contents: BackendContents): Promise<void> {
    this.values = new Map(contents.kvs.map((kv) => [kv.key, kv]));
    this.sortedKeys = null;
    this.log = [...contents.changes];
    this.head = 0;
    this.state = contents.state;
  }

  stats(): EngineStats {
    return { keys: this.values.size, historyChanges: this.log.length - this.head };
  }

  async close(): Promise<void> {}
}

/** The first position whose item is >= `item` in sorted `items`. */
function lowerBound<T>(
  items: { readonly length: number; at(k: number): T | undefined },
  item: T,
  compare: (a: T, b: T) => number,
): number {
  let low = 0;
  let high = items.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compare(items.at(mid)!, item) < 0) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** The memory KV engine: the revision store over a Map and an array. */
export class MemoryKvEngine extends RevisionEngine {
  constructor(settings?: HistorySettings) {
    super(new MemoryBackend(), settings);
  }
}
