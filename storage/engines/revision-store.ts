import {
  type EngineStats,
  inRange,
  type KeySpan,
  type KvCommand,
  type KvEngine,
  type KvItem,
  type KvRange,
  type KvRead,
  type KvReadResult,
  type KvResult,
  type Sidecar,
} from "./engine.js";
import type { BackendBatch, KvBackend, StoredState } from "./kv-backend.js";
import { readCheckpointRecords, writeKvCheckpoint } from "./kv-checkpoint.js";
import { BatchView, cutScan, Executor, keysOf, type PastReads } from "./kv-execute.js";
import { KeptIndex, type KeptSummary, summarize } from "./kv-kept.js";
import { type KeysOf, keysAt } from "./kv-past.js";
import { groupChanges, type HistoryState, historySize } from "./kv-stored.js";
import type { HistoryRead, KeyValue, KvChanges, KvEvent } from "./revisions.js";

/**
 * How much history is kept (config `history`). Applied when a batch is applied, as a function
 * of the applied index and the changes only, so replicas sharing the settings keep the same.
 */
export interface HistorySettings {
  /** Keep revisions > appliedIndex - keepRevisions readable (0: no bound by count). */
  readonly keepRevisions: number;
  /** Forget the oldest changes while the kept ones exceed this many bytes (0: no bound). */
  readonly keepBytes: number;
}

export const defaultHistorySettings: HistorySettings = {
  keepRevisions: 100_000,
  keepBytes: 64 << 20,
};

/**
 * The revision store: the one place where revisions mean something, over a storage backend
 * (memory or LevelDB). A key's value carries its metadata; every applied change is an event
 * in the kept history, written in the same atomic batch. A read at a past revision R is the
 * current state corrected, key by key, by the earliest kept event after R (its prevKv is the
 * key's state at R): no per-key index. Compaction at C forgets events below C.
 */
export class RevisionEngine implements KvEngine {
  appliedIndex = 0;
  private kept: HistoryState = { compactedRevision: 0, historyBytes: 0 };
  /** The kept revisions' sizes, built when the bound first forgets something. */
  private keptIndex: KeptIndex | null = null;
  private applied = 0;

  constructor(
    protected readonly backend: KvBackend,
    private readonly settings: HistorySettings = defaultHistorySettings,
  ) {}

  get name(): string {
    return this.backend.name;
  }

  get rebuild(): string | null {
    return this.backend.rebuild ?? null;
  }

  get compactedRevision(): number {
    return this.kept.compactedRevision;
  }

  async open(): Promise<void> {
    this.install(await this.backend.open());
  }

  private install(state: StoredState): void {
    this.appliedIndex = state.appliedIndex;
    this.kept = state.history;
  }

  async applyBatch(
    commands: readonly { index: number; command: KvCommand }[],
    lastIndex: number,
    sidecar?: Sidecar,
  ): Promise<KvResult[]> {
    const view = new BatchView(this.backend);
    await view.prefetch(commands.flatMap(({ command }) => keysOf(command)));
    const results: KvResult[] = [];
    const changes: KvChanges[] = [];
    let compactTo = this.kept.compactedRevision;
    for (const { index, command } of commands) {
      const dry = index <= this.appliedIndex;
      if (command.op === "compact") {
        const result = compactResult(command.revision, index, compactTo);
        if (!dry && !("error" in result)) compactTo = command.revision;
        results.push(result);
        continue;
      }
      const executor = new Executor(
        view,
        index,
        dry,
        this.pastReads(view, index, compactTo, changes),
      );
      results.push(await executor.run(command));
      if (executor.events.length === 0) continue;
      changes.push({ revision: index, events: executor.events });
      this.applied++;
    }
    if (lastIndex <= this.appliedIndex) return results;
    for (const { key, value } of sidecar?.(results, changes) ?? [])
      view.pending.set(key, value === null ? null : rawKv(key, value, lastIndex));
    const batch = await this.bound(changes, compactTo, lastIndex);
    const puts: KeyValue[] = [];
    const deletes: string[] = [];
    for (const [key, kv] of view.pending) {
      if (kv === null) deletes.push(key);
      else puts.push(kv);
    }
    // Readers meet the new bound before the write that forgets history lands (a history read
    // or past read between the two would find revisions gone and skip them unawares).
    this.kept = batch.state.history;
    await this.backend.write({ ...batch, puts, deletes });
    this.keptIndex?.advance(batch.dropped.length, batch.fresh);
    this.install(batch.state);
    return results;
  }

  /**
   * Past reads for the entry at `index` of a batch: its kept history is the backend's and the
   * batch's earlier changes; its compaction bound is the one in force after `index - 1`
   * (explicit compacts, keepRevisions; keepBytes only as of the last batch written).
   */
  private pastReads(
    view: BatchView,
    index: number,
    compactTo: number,
    changes: readonly KvChanges[],
  ): PastReads {
    const { keepRevisions } = this.settings;
    const byCount = keepRevisions > 0 ? index - keepRevisions : 0;
    return {
      compactedRevision: Math.max(compactTo, byCount),
      at: async (revision, span, own) => {
        const current = "key" in span ? [await view.get(span.key)] : await view.range(span);
        const later = [...changes, { revision: index, events: own }];
        return keysAt(this.backend, revision, span, current, later);
      },
    };
  }

  /**
   * The history bounds after a batch: explicit compaction, keepRevisions, then keepBytes
   * (oldest first, never the newest changes). Each is monotonic in the applied index, so the
   * outcome does not depend on how the entries were cut into batches. Sizes come from the
   * in-memory KeptIndex: the stored history is not read here.
   */
  private async bound(
    changes: readonly KvChanges[],
    compactTo: number,
    lastIndex: number,
  ): Promise<Omit<BackendBatch, "puts" | "deletes"> & { fresh: KeptSummary[] }> {
    const { keepRevisions, keepBytes } = this.settings;
    let compacted = compactTo;
    if (keepRevisions > 0) compacted = Math.max(compacted, lastIndex - keepRevisions + 1);
    const fresh = changes.map(summarize);
    let bytes = this.kept.historyBytes;
    for (const summary of fresh) bytes += summary.size;
    const dropped: KeptSummary[] = [];
    let freshDropped = 0;
    // Most batches forget nothing: then not even the index is looked at.
    if (compacted > this.kept.compactedRevision || (keepBytes > 0 && bytes > keepBytes)) {
      this.keptIndex ??= await KeptIndex.build(this.backend.changes(0));
      for (const [summary, isFresh] of oldestFirst(this.keptIndex, fresh)) {
        const overBytes = keepBytes > 0 && bytes > keepBytes && summary.revision < lastIndex;
        if (summary.revision >= compacted && !overBytes) break;
        bytes -= summary.size;
        compacted = Math.max(compacted, summary.revision + 1);
        if (isFresh) freshDropped++;
        else dropped.push(summary);
      }
    }
    compacted = Math.min(compacted, lastIndex);
    return {
      changes: changes.slice(freshDropped),
      dropped,
      fresh: fresh.slice(freshDropped),
      state: {
        appliedIndex: lastIndex,
        history: { compactedRevision: compacted, historyBytes: bytes },
      },
    };
  }

  async get(key: string): Promise<string | null> {
    const [kv] = await this.backend.get([key]);
    return kv?.value ?? null;
  }

  async scan(range: KvRange): Promise<KvItem[]> {
    const items: KvItem[] = [];
    for await (const { key, value } of this.backend.range(range)) {
      if (items.length >= range.limit) break;
      items.push({ key, value });
    }
    return items;
  }

  async read(request: KvRead): Promise<KvReadResult> {
    const at = request.revision;
    if (at !== undefined && at < this.kept.compactedRevision)
      return { ok: false, error: "compacted", compactedRevision: this.kept.compactedRevision };
    if (at !== undefined && at > this.appliedIndex)
      return { ok: false, error: "future", appliedIndex: this.appliedIndex };
    const past = at !== undefined && at < this.appliedIndex ? at : null;
    if (request.op === "get") {
      const [kv] =
        past === null ? await this.backend.get([request.key]) : await this.keysAt(past, request);
      return { ok: true, result: { op: "get", kv: kv ?? null } };
    }
    const all: KeyValue[] = [];
    if (past !== null) all.push(...(await this.keysAt(past, request.range)));
    else for await (const kv of this.backend.range(request.range)) all.push(kv);
    return { ok: true, result: { op: "scan", ...cutScan(all, request) } };
  }

  /** The keys of a span (or one key) at a past revision, from the current ones and history. */
  private async keysAt(revision: number, span: KeysOf): Promise<KeyValue[]> {
    const current =
      "key" in span ? await this.backend.get([span.key]) : await collect(this.backend.range(span));
    return keysAt(this.backend, revision, span, current);
  }

  async history(fromRevision: number, span: KeySpan, limit: number): Promise<HistoryRead> {
    if (fromRevision < this.kept.compactedRevision)
      return { ok: false, compactedRevision: this.kept.compactedRevision };
    const through = this.appliedIndex;
    const changes: KvChanges[] = [];
    let events = 0;
    for await (const change of this.backend.changes(fromRevision)) {
      if (change.revision > through) break;
      const inSpan = change.events.filter((event) => inRange(event.kv.key, span));
      if (inSpan.length === 0) continue;
      changes.push({ revision: change.revision, events: inSpan });
      events += inSpan.length;
      if (events >= limit) return { ok: true, changes, throughRevision: change.revision };
    }
    return { ok: true, changes, throughRevision: through };
  }

  checkpoint(path: string, signal?: AbortSignal): Promise<number> {
    return writeKvCheckpoint(path, this.backend.pin(), signal);
  }

  async restore(path: string, index: number): Promise<void> {
    // Read (and so verify) the whole checkpoint before touching the current state.
    const kvs: KeyValue[] = [];
    const changes: KvChanges[] = [];
    const events: { revision: number; event: KvEvent }[] = [];
    let compactedRevision = index;
    for await (const record of readCheckpointRecords(path, index)) {
      if (record.kind === "kv") kvs.push(record.kv);
      else if (record.kind === "event") events.push(record);
      else if (record.kind === "changes") changes.push(record.changes);
      else compactedRevision = record.state.compactedRevision;
    }
    // A file holds history of one kind: events (format 3) or whole changes (format 2).
    for await (const grouped of groupChanges(events)) changes.push(grouped);
    const historyBytes = changes.reduce((sum, change) => sum + historySize(change), 0);
    const state = { appliedIndex: index, history: { compactedRevision, historyBytes } };
    await this.backend.replace({ kvs, changes, state });
    this.keptIndex = null;
    this.install(state);
  }

  stats(): EngineStats {
    return {
      ...this.backend.stats(),
      appliedIndex: this.appliedIndex,
      commandsApplied: this.applied,
      compactedRevision: this.kept.compactedRevision,
      historyBytes: this.kept.historyBytes,
    };
  }

  async close(): Promise<void> {
    await this.backend.close();
  }
}

/** compact at `revision`, in the entry at `index`, with history compacted to `compacted`. */
function compactResult(revision: number, index: number, compacted: number): KvResult {
  if (revision > index) return { op: "compact", error: "future", revision: index };
  if (revision < compacted) return { op: "compact", error: "compacted", revision: compacted };
  return { op: "compact", revision };
}

/** A reserved raw write (the session table): stored with revisions, never an event. */
function rawKv(key: string, value: string, index: number): KeyValue {
  return { key, value, createRevision: index, modRevision: index, version: 1, lease: null };
}

/** The kept revisions, then the batch's (flagged fresh). */
function* oldestFirst(
  index: KeptIndex,
  fresh: readonly KeptSummary[],
): Generator<[KeptSummary, boolean]> {
  for (const summary of index.oldest()) yield [summary, false];
  for (const summary of fresh) yield [summary, true];
}

async function collect<T>(items: AsyncIterable<T> | Iterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}
