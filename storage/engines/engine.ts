import type { HistoryRead, KeyValue, KvChanges } from "./revisions.js";

/** Keys a range op covers: a prefix, and/or [start, end). */
export interface KeySpan {
  readonly prefix?: string;
  readonly start?: string;
  readonly end?: string;
}

export type CompareTarget = "value" | "version" | "createRevision" | "modRevision" | "lease";
export type CompareOp = "==" | "!=" | "<" | ">";

/** What a compare tests, on one key or on every key of a range. */
export interface CompareTest {
  readonly target: CompareTarget;
  readonly op: CompareOp;
  readonly value: string | number | null;
}

/**
 * One txn guard (etcd's Compare); an absent key has version/revisions 0, value and lease null.
 * Over a `range` (added) it holds when it holds for every key in it; an empty range is tested
 * as one absent key (etcd's applyCompare).
 */
export type TxnCompare = CompareTest & ({ readonly key: string } | { readonly range: KeySpan });

export interface ScanOptions {
  readonly limit: number;
  readonly keysOnly?: boolean;
  readonly countOnly?: boolean;
}

/** A write that changes one key or a range (also a txn's ops). */
export type KvWrite =
  | {
      readonly op: "put";
      readonly key: string;
      readonly value: string;
      /** Passed through to KeyValue.lease (the lease table checks it before proposing). */
      readonly lease?: string | null;
      readonly prevKv?: boolean;
      /** Keep the key's value (etcd's ignore_value): the key must exist. Added. */
      readonly ignoreValue?: boolean;
      /** Keep the key's lease (etcd's ignore_lease): the key must exist. Added. */
      readonly ignoreLease?: boolean;
    }
  | { readonly op: "delete"; readonly key: string; readonly prevKv?: boolean }
  | { readonly op: "deleteRange"; readonly range: KeySpan; readonly prevKv?: boolean };

/**
 * A read inside a txn: it sees the txn's earlier writes; at a `revision` (added) it reads the
 * state at that revision instead, which must precede the txn's own (etcd's checkRequestRange).
 */
export type KvTxnRead =
  | { readonly op: "get"; readonly key: string; readonly revision?: number }
  | ({ readonly op: "scan"; readonly range: KeySpan; readonly revision?: number } & ScanOptions);

/** A txn (also one nested inside a txn's branch: added). */
export interface KvTxn {
  readonly op: "txn";
  readonly compare: readonly TxnCompare[];
  readonly success: readonly TxnOp[];
  readonly failure: readonly TxnOp[];
}

export type TxnOp = KvWrite | KvTxnRead | KvTxn;

/**
 * Why a txn (or a put with ignoreValue/ignoreLease) did nothing: the key such a put keeps is
 * absent, or a read's revision is compacted or not yet reached. As etcd's checkRequests.
 */
export type TxnError =
  | { readonly error: "key-not-found"; readonly key: string }
  | { readonly error: "compacted"; readonly revision: number; readonly compactedRevision: number }
  | { readonly error: "future"; readonly revision: number; readonly currentRevision: number };

/** Commands that change KV state; they travel through the Raft log. */
export type KvCommand =
  | KvWrite
  | {
      readonly op: "cas";
      readonly key: string;
      readonly expect: string | null;
      readonly value: string;
    }
  | { readonly op: "incr"; readonly key: string; readonly delta: number }
  | KvTxn
  /** Forget history below `revision` (the admin `compact` op). */
  | { readonly op: "compact"; readonly revision: number };

export interface ScanResult {
  readonly items: readonly KeyValue[];
  /** Whether `limit` cut the range. */
  readonly more: boolean;
  /** Keys in the whole range. */
  readonly count: number;
}

/**
 * An op's outcome. The fields of the first four ops are what they were before revisions;
 * prevKv/prevKvs appear only when the command asked for them.
 */
export type KvResult =
  | { readonly op: "put"; readonly prevKv?: KeyValue | null }
  | ({ readonly op: "put" } & TxnError)
  | { readonly op: "delete"; readonly deleted: boolean; readonly prevKvs?: readonly KeyValue[] }
  | { readonly op: "cas"; readonly succeeded: boolean; readonly value: string | null }
  | { readonly op: "incr"; readonly value: number }
  | { readonly op: "incr"; readonly error: "not-integer"; readonly value: string }
  | {
      readonly op: "deleteRange";
      readonly deleted: number;
      readonly prevKvs?: readonly KeyValue[];
    }
  | { readonly op: "get"; readonly kv: KeyValue | null }
  | ({ readonly op: "scan" } & ScanResult)
  | { readonly op: "txn"; readonly succeeded: boolean; readonly results: readonly KvResult[] }
  /** Nothing of the txn was done. */
  | ({ readonly op: "txn" } & TxnError)
  | { readonly op: "compact"; readonly revision: number }
  /** compacted: at or below the compacted revision already; future: past this entry. */
  | { readonly op: "compact"; readonly error: "compacted" | "future"; readonly revision: number };

/** A read of the current state, or of the past at `revision`. */
export type KvRead =
  | { readonly op: "get"; readonly key: string; readonly revision?: number }
  | ({
      readonly op: "scan";
      readonly range: KeySpan;
      readonly revision?: number;
    } & ScanOptions);

export type KvReadResult =
  | { readonly ok: true; readonly result: KvResult }
  /** `revision` is older than the kept history, whose oldest revision is `compactedRevision`. */
  | { readonly ok: false; readonly error: "compacted"; readonly compactedRevision: number }
  /** `revision` is past the applied index. */
  | { readonly ok: false; readonly error: "future"; readonly appliedIndex: number };

/** Given an applied batch's results and changes (see KvEngine.applyBatch). */
export type Sidecar = (
  results: readonly KvResult[],
  changes: readonly KvChanges[],
) => readonly { readonly key: string; readonly value: string | null }[];

export interface KvRange extends KeySpan {
  readonly limit: number;
}

export interface KvItem {
  readonly key: string;
  readonly value: string;
}

export interface EngineStats {
  readonly [name: string]: number;
}

/**
 * A KV engine behind the apply stage. Small on purpose (hashicorp's FSM has three methods):
 * apply a batch of commands, answer reads, checkpoint to a file and restore from one.
 * Commands at or below appliedIndex are skipped, so replaying the log after a restart is safe.
 */
export interface KvEngine {
  readonly name: string;
  /** Index of the last command applied; durable engines store it with the data. */
  readonly appliedIndex: number;
  /** Set by open() when the engine found itself damaged and emptied: why (it is rebuilt). */
  readonly rebuild?: string | null;
  open(): Promise<void>;
  /**
   * Apply `commands` (log order) and record `lastIndex` as applied. Each command's writes get
   * its index as their revision, and its KvChanges go into the kept history in the same
   * atomic write. `sidecar`, given the results and the changes, names raw writes (value null
   * = delete; no revision events) that must land atomically with them — the apply stage
   * keeps its session table so. A replayed batch (lastIndex <= appliedIndex) changes nothing
   * and does not call the sidecar.
   */
  applyBatch(
    commands: readonly { readonly index: number; readonly command: KvCommand }[],
    lastIndex: number,
    sidecar?: Sidecar,
  ): Promise<KvResult[]>;
  get(key: string): Promise<string | null>;
  scan(range: KvRange): Promise<KvItem[]>;
  /** The oldest revision still readable (reads below it are compacted). */
  readonly compactedRevision: number;
  /** A get or scan with revisions, at the current state or at a kept past `revision`. */
  read(request: KvRead): Promise<KvReadResult>;
  /** The kept history (watch catch-up): see HistoryPort. */
  history(fromRevision: number, span: KeySpan, limit: number): Promise<HistoryRead>;
  /**
   * Write the whole state to `path`; returns its size in bytes. The state is the one at the
   * call: it is pinned before checkpoint() returns its promise, and commands applied while
   * the file is written do not reach it (the apply stage goes on applying meanwhile).
   * `signal` abandons the writing: the promise rejects soon after, the file is incomplete.
   */
  checkpoint(path: string, signal?: AbortSignal): Promise<number>;
  /** Replace the whole state by the checkpoint at `path`, taken at `index`. */
  restore(path: string, index: number): Promise<void>;
  stats(): EngineStats;
  close(): Promise<void>;
}

export function inRange(key: string, range: KeySpan): boolean {
  if (range.prefix !== undefined && !key.startsWith(range.prefix)) return false;
  if (range.start !== undefined && compareKeys(key, range.start) < 0) return false;
  if (range.end !== undefined && compareKeys(key, range.end) >= 0) return false;
  return true;
}

/**
 * Key order is UTF-8 byte order, as LevelDB (and etcd) sort. UTF-16 code-unit order agrees
 * except that surrogate pairs (code points above U+FFFF) must sort after every BMP code unit.
 */
export function compareKeys(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let k = 0; k < length; k++) {
    const x = a.charCodeAt(k);
    const y = b.charCodeAt(k);
    if (x === y) continue;
    const xSurrogate = x >= 0xd800 && x <= 0xdfff;
    const ySurrogate = y >= 0xd800 && y <= 0xdfff;
    if (xSurrogate !== ySurrogate) return xSurrogate ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}
