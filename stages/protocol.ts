/**
 * The client protocol (../shared/CONTRACT.md §3): one JSON object per WebSocket text frame.
 * This file is its vocabulary (ops, codes, limits) and the encoding of replies; decoding is
 * the gateway (protocol-decode.ts, with the field checks of protocol-fields.ts): what passes
 * there is well-typed and within limits. The client library imports this file too, so both
 * sides agree on names and codes.
 */

import { type LeaseRequest, leaseAdminOps, leaseWriteOps } from "./protocol-leases.js";
import { type VectorRequest, vectorAdminOps, vectorWriteOps } from "./protocol-vector-ops.js";

export const ErrorCode = {
  badRequest: "BAD_REQUEST",
  tooLarge: "TOO_LARGE",
  notLeader: "NOT_LEADER",
  unavailable: "UNAVAILABLE",
  timeout: "TIMEOUT",
  overloaded: "OVERLOADED",
  unauthorized: "UNAUTHORIZED",
  notFound: "NOT_FOUND",
  conflict: "CONFLICT",
  /** A read or watch at a revision older than the kept history (CONTRACT §5). */
  compacted: "COMPACTED",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

import type { CompareTest, KeySpan, ScanOptions } from "../storage/engines/engine.js";

export type RequestId = number | string;
export type Consistency = "linearizable" | "lease" | "stale";

export interface WriteSession {
  readonly session?: string;
  readonly seq?: number;
}

export type ClientRequest =
  | ({
      readonly op: "put";
      readonly key: string;
      readonly value: string;
      readonly prevKv?: boolean;
      /** Attach the key to this lease (CONTRACT §5); absent: the key has no lease. */
      readonly lease?: string;
      /** Keep the key's value / lease; the key must exist (etcd's ignore_*; added). */
      readonly ignoreValue?: boolean;
      readonly ignoreLease?: boolean;
    } & WriteSession)
  | ({ readonly op: "delete"; readonly key: string; readonly prevKv?: boolean } & WriteSession)
  /** delete with prefix or start/end (CONTRACT §5): answered with a count. */
  | ({ readonly op: "delete"; readonly prevKv?: boolean } & KeySpan & WriteSession)
  | (TxnRequest & WriteSession)
  | { readonly op: "compact"; readonly revision: number }
  | ({
      readonly op: "cas";
      readonly key: string;
      readonly expect: string | null;
      readonly value: string;
    } & WriteSession)
  | ({ readonly op: "incr"; readonly key: string; readonly delta: number } & WriteSession)
  | {
      readonly op: "get";
      readonly key: string;
      readonly consistency: Consistency;
      /** Read the past at this revision (CONTRACT §5). */
      readonly revision?: number;
    }
  | ({
      readonly op: "scan";
      readonly prefix?: string;
      readonly start?: string;
      readonly end?: string;
      readonly consistency: Consistency;
      readonly revision?: number;
    } & ScanOptions)
  | { readonly op: "status" }
  | { readonly op: "members" }
  | {
      readonly op: "member-add";
      readonly name: string;
      readonly peer: string;
      /** null: learned from the member's hello once it starts (etcd's MemberAdd). */
      readonly client: string | null;
      readonly voter: boolean;
    }
  | { readonly op: "member-remove"; readonly name: string }
  | { readonly op: "member-promote"; readonly name: string }
  | { readonly op: "transfer-leader"; readonly to: string }
  | { readonly op: "snapshot" }
  | VectorRequest
  | LeaseRequest
  | WatchRequest
  | { readonly op: "cancel-watch"; readonly watch: number };

/**
 * CONTRACT §5 `watch`: exactly one of key, prefix or start/end (protocol-watch.ts checks it).
 * Served by the node it reaches, from its own applied stream (stages/apply/watch-hub.ts).
 */
export interface WatchRequest {
  readonly op: "watch";
  readonly key?: string;
  readonly prefix?: string;
  readonly start?: string;
  readonly end?: string;
  /** First revision to deliver; absent: the changes applied after the watch is created. */
  readonly startRevision?: number;
  readonly prevKv: boolean;
  readonly noPut: boolean;
  readonly noDelete: boolean;
}

/** A txn's put (the client's type too). */
export interface TxnPutOp {
  readonly op: "put";
  readonly key: string;
  readonly value: string;
  readonly prevKv?: boolean;
  /** Attach the key to this lease, as put's (CONTRACT §5). */
  readonly lease?: string;
  /** Keep the key's value (then `value` is ""); the key must exist. Added. */
  readonly ignoreValue?: boolean;
  /** Keep the key's lease (then no `lease`); the key must exist. Added. */
  readonly ignoreLease?: boolean;
}

/** A txn's compare as the client sends it: on one key, or (added) on every key of a range. */
export type TxnRequestCompare = CompareTest & ({ readonly key: string } | KeySpan);

/** A txn, also nested as an op of a txn's branch (added; its result: succeeded, results). */
export interface TxnRequest {
  readonly op: "txn";
  readonly compare: readonly TxnRequestCompare[];
  readonly success: readonly TxnRequestOp[];
  readonly failure: readonly TxnRequestOp[];
}

/**
 * A txn's op as the client sends it. Decoded requests keep the wire's shape: a follower
 * forwards them and the leader decodes them again (stages/replicate/peer-gateway.ts).
 */
export type TxnRequestOp =
  | TxnPutOp
  /** `revision` (added): read the state at that revision, before the txn's own. */
  | { readonly op: "get"; readonly key: string; readonly revision?: number }
  | { readonly op: "delete"; readonly key: string; readonly prevKv?: boolean }
  | ({ readonly op: "delete"; readonly prevKv?: boolean } & KeySpan)
  | ({ readonly op: "scan"; readonly revision?: number } & KeySpan & ScanOptions)
  | TxnRequest;

export type ClientOp = ClientRequest["op"];
export type WriteOp = "put" | "delete" | "cas" | "incr" | "txn" | "compact";

export const writeOps: Record<ClientOp, boolean> = {
  put: true,
  delete: true,
  cas: true,
  incr: true,
  txn: true,
  compact: true,
  get: false,
  scan: false,
  status: false,
  members: false,
  "member-add": false,
  "member-remove": false,
  "member-promote": false,
  "transfer-leader": false,
  snapshot: false,
  ...vectorWriteOps,
  ...leaseWriteOps,
  watch: false,
  "cancel-watch": false,
};

/** Ops that need a connection opened with the admin token (when auth is on). */
export const adminOps: Record<ClientOp, boolean> = {
  put: false,
  delete: false,
  cas: false,
  incr: false,
  txn: false,
  compact: true,
  get: false,
  scan: false,
  status: false,
  members: false,
  "member-add": true,
  "member-remove": true,
  "member-promote": true,
  "transfer-leader": true,
  snapshot: true,
  ...vectorAdminOps,
  ...leaseAdminOps,
  watch: false,
  "cancel-watch": false,
};

/** Ops only the leader can carry out (a follower forwards them). */
export const leaderOps: Record<ClientOp, boolean> = {
  ...writeOps,
  "member-add": true,
  "member-remove": true,
  "member-promote": true,
  "transfer-leader": true,
  snapshot: true,
};

export interface ProtocolLimits {
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
  readonly maxScanLimit: number;
}

export const defaultProtocolLimits: ProtocolLimits = {
  maxKeyBytes: 4096,
  maxValueBytes: 1 << 20,
  maxScanLimit: 10_000,
};

export interface ErrorBody {
  readonly code: ErrorCode;
  readonly message: string;
  readonly leader?: string | null;
}

export type DecodeResult =
  | { readonly ok: true; readonly id: RequestId; readonly request: ClientRequest }
  | { readonly ok: false; readonly id: RequestId | null; readonly error: ErrorBody };

export function encodeSuccess(id: RequestId, result: Record<string, unknown>): string {
  return JSON.stringify({ id, ok: true, ...result });
}

export function encodeError(id: RequestId | null, error: ErrorBody): string {
  return JSON.stringify({ id, ok: false, error });
}
