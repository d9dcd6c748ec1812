import type { KeySpan } from "./engine.js";

/**
 * The data model's shared vocabulary (../shared/CONTRACT.md §5), defined before the revision
 * store, the watch hub and the lease table are built, so that each of them agrees with the
 * others. A revision is the log index of the entry that made the change: unique, monotonic and
 * identical on every replica; all writes of one entry (a txn) share it.
 */

/** A key's value with its revisions (etcd's mvccpb.KeyValue). */
export interface KeyValue {
  readonly key: string;
  readonly value: string;
  /** Revision of the put that created this generation of the key. */
  readonly createRevision: number;
  /** Revision of the last change of the key. */
  readonly modRevision: number;
  /** Puts since creation: 1 after the creating put; a delete ends the generation. */
  readonly version: number;
  /** The lease the key is attached to (decimal string id), or null. */
  readonly lease: string | null;
}

/**
 * One change, as a watch delivers it. A delete's `kv` carries the key, `modRevision` = the
 * delete's revision, value "", version 0, createRevision 0 and lease null.
 */
export interface KvEvent {
  readonly type: "put" | "delete";
  readonly kv: KeyValue;
  /** The key before the change (null when it did not exist). */
  readonly prevKv: KeyValue | null;
}

/** The changes one applied entry made, in the order its commands ran. */
export interface KvChanges {
  readonly revision: number;
  readonly events: readonly KvEvent[];
}

/** Changes read back from the kept history, for a watch that starts in the past. */
export type HistoryRead =
  | {
      readonly ok: true;
      /** Changes with fromRevision <= revision <= throughRevision, in revision order. */
      readonly changes: readonly KvChanges[];
      /** The last revision covered: equal to the applied index unless `limit` cut the read. */
      readonly throughRevision: number;
    }
  /** fromRevision is older than the kept history; `compactedRevision` is the oldest kept. */
  | { readonly ok: false; readonly compactedRevision: number };

/** Where the history of changes can be read (the state machine, in this thread or a worker). */
export interface HistoryPort {
  /**
   * Changes within `range` from `fromRevision` on; at most about `limit` events (a revision's
   * events are never split). A KvRange's `limit` is ignored here.
   */
  history(fromRevision: number, range: KeySpan, limit: number): Promise<HistoryRead>;
}
