/**
 * The client's types for revisions, range ops and txn (CONTRACT §5), and small builders for
 * txn compares and ops: `db.txn({ compare: [cmp.version("k", "==", 0)], success:
 * [op.put("k", "v")] })`.
 */

import type { TxnPutOp } from "../../stages/protocol.js";
import type {
  CompareOp,
  CompareTarget,
  KeySpan,
  TxnCompare,
} from "../../storage/engines/engine.js";
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

export type Compare = TxnCompare;

export type TxnOp =
  | TxnPutOp
  | { readonly op: "get"; readonly key: string }
  | ({ readonly op: "delete"; readonly key?: string; readonly prevKv?: boolean } & RangeOptions)
  | ({ readonly op: "scan" } & ScanRequestOptions);

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

const compareOn =
  (target: CompareTarget) =>
  (key: string, op: CompareOp, value: string | number | null): Compare => ({
    key,
    target,
    op,
    value,
  });

/** Compares by target: `cmp.modRevision("k", "<", 10)`. */
export const cmp = {
  value: compareOn("value"),
  version: compareOn("version"),
  createRevision: compareOn("createRevision"),
  modRevision: compareOn("modRevision"),
  lease: compareOn("lease"),
} as const;

/** Txn ops: `op.put("k", "v")`, `op.delete({ prefix: "p/" })`. */
export const op = {
  put: (key: string, value: string, options: { prevKv?: boolean; lease?: string } = {}): TxnOp => ({
    op: "put",
    key,
    value,
    ...options,
  }),
  get: (key: string): TxnOp => ({ op: "get", key }),
  delete: (target: string | RangeOptions, options: { prevKv?: boolean } = {}): TxnOp =>
    typeof target === "string"
      ? { op: "delete", key: target, ...options }
      : { op: "delete", ...target, ...options },
  scan: (options: ScanRequestOptions = {}): TxnOp => ({ op: "scan", ...options }),
} as const;
