import type { EngineStats, KeySpan } from "./engine.js";
import type { KeptSummary } from "./kv-kept.js";
import type { HistoryState, StoredRecord } from "./kv-stored.js";
import type { KeyValue, KvChanges } from "./revisions.js";

/** What a backend persists besides keys and history. */
export interface StoredState {
  readonly appliedIndex: number;
  readonly history: HistoryState;
}

/** One atomic write: an applied batch's keys, its history records and the new state. */
export interface BackendBatch {
  readonly puts: readonly KeyValue[];
  readonly deletes: readonly string[];
  readonly changes: readonly KvChanges[];
  /** Kept revisions to forget (compaction), oldest first, with their event counts. */
  readonly dropped: readonly KeptSummary[];
  readonly state: StoredState;
}

/** The state to install at a restore, read (and verified) from a checkpoint. */
export interface BackendContents {
  readonly kvs: readonly KeyValue[];
  readonly changes: readonly KvChanges[];
  readonly state: StoredState;
}

/**
 * Storage for the revision store (revision-store.ts): keys with their metadata, the kept
 * history in revision order, and the state markers, with no semantics of its own. Everything
 * revisions mean — metadata, events, txn, past reads, compaction — is in RevisionEngine, once.
 */
export interface KvBackend {
  readonly name: string;
  /** Set by open() when the backend found itself damaged and emptied (see KvEngine.rebuild). */
  readonly rebuild?: string | null;
  open(): Promise<StoredState>;
  get(keys: readonly string[]): Promise<(KeyValue | null)[]>;
  /** The current keys in `span`, in key order. */
  range(span: KeySpan): AsyncIterable<KeyValue> | Iterable<KeyValue>;
  /** Kept changes with revision >= fromRevision, in revision order. */
  changes(fromRevision: number): AsyncIterable<KvChanges> | Iterable<KvChanges>;
  write(batch: BackendBatch): Promise<void>;
  /**
   * The whole state as checkpoint records (kv-stored.ts), pinned at the call: writes after
   * it do not reach the records read later.
   */
  pin(): AsyncIterable<StoredRecord> | Iterable<StoredRecord>;
  /** Replace everything by `contents` (a crash half-way leaves applied index 0: restored again). */
  replace(contents: BackendContents): Promise<void>;
  stats(): EngineStats;
  close(): Promise<void>;
}
