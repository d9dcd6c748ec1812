/**
 * The client's types for revisions, range ops and txn (CONTRACT §5), and small builders for
 * txn compares and ops: `db.txn({ compare: [cmp.version("k", "==", 0)], success:
 * [op.put("k", "v")] })`.
 */

import type { TxnPutOp, TxnRequestCompare } from "../../stages/protocol.js";
import type { CompareOp, CompareTarget, KeySpan } from "../../storage/engines/engine.js";
import type { KeyValue } from "../../storage/engines/revisions.js";

// The shapes the server decodes, shared so the two cannot drift apart.
export type { CompareOp, CompareTarget } from "../../storage/engines/engine.js";
export type { KeyValue } from "../../storage/engines/revisions.js";

export interface GetResult {
  readonly found: boolean;
  readonly value: string | null;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  readonly lease: string | null;
  /** The revision the read was served at (the applied index, or the `revision` asked for). */
  readonly revision: number;
  readonly index: number;
}

export interface ScanResult {
  readonly items: KeyValue[];
  /** Whether `limit` cut the range. */
  readonly more: boolean;
  /** Keys in the whole range. */
  readonly count: number;
  readonly revision: number;
  readonly index: number;
}

/** Keys a range op covers: a prefix, and/or [start, end). */
export type RangeOptions = KeySpan;

export interface ScanRequestOptions extends RangeOptions {
  readonly limit?: number;
  readonly keysOnly?: boolean;
  readonly countOnly?: boolean;
}

/** On one key (`key`), or on every key of a range (`prefix`/`start`/`end`: added). */
export type Compare = TxnRequestCompare;

export type TxnOp =
  | TxnPutOp
  /** `revision` (added): the state at that revision, before the txn's own. */
  | { readonly op: "get"; readonly key: string; readonly revision?: number }
  | ({ readonly op: "delete"; readonly key?: string; readonly prevKv?: boolean } & RangeOptions)
  | ({ readonly op: "scan"; readonly revision?: number } & ScanRequestOptions)
  /** A txn nested in a branch (added): its result is `{succeeded, results}`. */
  | ({ readonly op: "txn" } & TxnRequest);

export interface TxnRequest {
  readonly compare?: readonly Compare[];
  readonly success?: readonly TxnOp[];
  readonly failure?: readonly TxnOp[];
}

export interface TxnResult {
  readonly succeeded: boolean;
  /** Each op's result fields, in the order of the branch that ran. */
  readonly results: Record<string, unknown>[];
  readonly revision: number;
  readonly index: number;
}

/** A compare's subject: a key, or (added) a range, every key of which must hold. */
type CompareOn = string | RangeOptions;

const compareOn =
  (target: CompareTarget) =>
  (on: CompareOn, op: CompareOp, value: string | number | null): Compare => ({
    ...(typeof on === "string" ? { key: on } : on),
    target,
    op,
    value,
  });

/** Compares by target: `cmp.modRevision("k", "<", 10)`, `cmp.version({ prefix: "p/" }, "==", 0)`. */
export const cmp = {
  value: compareOn("value"),
  version: compareOn("version"),
  createRevision: compareOn("createRevision"),
  modRevision: compareOn("modRevision"),
  lease: compareOn("lease"),
} as const;

/** A put's options, alone or in a txn (CONTRACT §5; ignoreValue/ignoreLease added). */
export interface PutOptions {
  /** Answer the key as it was before (null when absent). */
  readonly prevKv?: boolean;
  /** Attach the key to this lease. */
  readonly lease?: string;
  /** Keep the key's value (give "" as the value); the key must exist. */
  readonly ignoreValue?: boolean;
  /** Keep the key's lease; the key must exist. */
  readonly ignoreLease?: boolean;
}

/** Txn ops: `op.put("k", "v")`, `op.delete({ prefix: "p/" })`. */
export const op = {
  put: (key: string, value: string, options: PutOptions = {}): TxnOp => ({
    op: "put",
    key,
    value,
    ...options,
  }),
  get: (key: string, options: { revision?: number } = {}): TxnOp => ({
    op: "get",
    key,
    ...options,
  }),
  delete: (target: string | RangeOptions, options: { prevKv?: boolean } = {}): TxnOp =>
    typeof target === "string"
      ? { op: "delete", key: target, ...options }
      : { op: "delete", ...target, ...options },
  scan: (options: ScanRequestOptions & { revision?: number } = {}): TxnOp => ({
    op: "scan",
    ...options,
  }),
  /** A txn nested in a branch (added). */
  txn: (request: TxnRequest): TxnOp => ({ op: "txn", ...request }),
} as const;
