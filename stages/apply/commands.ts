import { Packr } from "msgpackr";
import type { KeySpan, KvCommand, KvTxn, TxnCompare, TxnOp } from "../../storage/engines/engine.js";
import type { VectorCommand } from "../../storage/engines/vector-store.js";
import type { ClientRequest, TxnPutOp, TxnRequest, TxnRequestOp } from "../protocol.js";
import { isVectorOp } from "../protocol-vector-ops.js";
import type { LeaseCommand } from "./lease-commands.js";
import { decodeVec, encodeVec, toVectorCommand } from "./vector-log.js";

/**
 * What a normal log entry carries: a state machine command, with the client session that
 * makes it exactly-once when one is given. Encoded with msgpackr; entries with empty data are
 * the leader's no-ops.
 */
export interface LogCommand {
  readonly kv?: KvCommand;
  readonly vec?: VectorCommand;
  readonly lease?: LeaseCommand;
  /** Snapshot here: every replica snapshots at the same log index (see ApplyStage). */
  readonly snapshot?: true;
  readonly session?: { readonly id: string; readonly seq: number };
  /** The leader's clock at proposal: the only time the replicated state machine sees. */
  readonly ts: number;
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/** Vector commands take their own wire form (vector-log.ts); the rest packs as it is. */
export function encodeCommand(command: LogCommand): Uint8Array {
  if (command.vec === undefined) return packr.pack(command);
  return packr.pack({ ...command, vec: encodeVec(command.vec) });
}

export function decodeCommand(data: Uint8Array): LogCommand {
  const command = packr.unpack(data) as LogCommand;
  if (command.vec === undefined) return command;
  return { ...command, vec: decodeVec(command.vec as unknown as Parameters<typeof decodeVec>[0]) };
}

/** What a vcreate without engine or params gets (engines.* in the config; resolved on the leader). */
export interface VectorDefaults {
  readonly engine: "hnsw" | "flat";
  readonly hnsw: { readonly m: number; readonly efConstruction: number; readonly efSearch: number };
  /** Per collection name (engines.collections in the config). */
  readonly collections: Readonly<
    Record<
      string,
      { engine?: "hnsw" | "flat"; m?: number; efConstruction?: number; efSearch?: number }
    >
  >;
}

/**
 * The entry a write becomes. A vcreate carries its engine and parameters fully resolved by the
 * leader: replicas configured differently must still build the same collection.
 */
export function toLogCommand(
  request: ClientRequest,
  ts: number,
  vectorDefaults: VectorDefaults,
): LogCommand {
  const meta =
    "session" in request && request.session !== undefined
      ? { session: { id: request.session, seq: request.seq! }, ts }
      : { ts };
  switch (request.op) {
    case "put":
      return { kv: putCommand(request), ...meta };
    case "delete":
      return { kv: deleteCommand(request), ...meta };
    case "txn":
      return { kv: txnCommand(request), ...meta };
    case "compact":
      return { kv: { op: "compact", revision: request.revision }, ts };
    case "cas":
      return {
        kv: { op: "cas", key: request.key, expect: request.expect, value: request.value },
        ...meta,
      };
    case "incr":
      return { kv: { op: "incr", key: request.key, delta: request.delta }, ...meta };
    case "snapshot":
      return { snapshot: true, ts };
    case "lease-grant":
      return { lease: { op: "grant", ttl: request.ttl }, ...meta };
    case "lease-keepalive":
      return { lease: { op: "keepalive", id: request.lease }, ...meta };
    case "lease-revoke":
      return { lease: { op: "revoke", id: request.lease }, ...meta };
    default:
      if (isVectorOp(request.op)) return { vec: toVectorCommand(request, vectorDefaults), ...meta };
      throw new Error(`not a write: ${request.op}`);
  }
}

/** Client ranges start after the reserved U+0000 keys (session records). */
export const RESERVED_END = "\u0001";

/** A client's span, kept off the reserved keys. */
export function userSpan(span: KeySpan): KeySpan {
  return span.start !== undefined && span.start > RESERVED_END
    ? span
    : { ...span, start: RESERVED_END };
}

/** A txn (also a nested one) in the engine's form: ranges kept off the reserved keys. */
function txnCommand(txn: TxnRequest): KvTxn {
  return {
    op: "txn",
    compare: txn.compare.map(({ target, op, value, ...on }): TxnCompare => {
      const test = { target, op, value };
      return "key" in on ? { key: on.key, ...test } : { range: userSpan(spanOf(on)), ...test };
    }),
    success: txn.success.map(userOp),
    failure: txn.failure.map(userOp),
  };
}

/** A txn op in the engine's form. */
function userOp(op: TxnRequestOp): TxnOp {
  switch (op.op) {
    case "delete":
      return deleteCommand(op);
    case "scan": {
      const { prefix, start, end, op: _, ...options } = op;
      return { op: "scan", range: userSpan(spanOf(op)), ...options };
    }
    case "put":
      return putCommand(op);
    case "txn":
      return txnCommand(op);
    default:
      return op;
  }
}

function putCommand(put: TxnPutOp): Extract<KvCommand, { op: "put" }> {
  const { key, value, prevKv, lease, ignoreValue, ignoreLease } = put;
  return {
    op: "put",
    key,
    value,
    ...(prevKv ? { prevKv } : {}),
    ...(lease ? { lease } : {}),
    ...(ignoreValue ? { ignoreValue } : {}),
    ...(ignoreLease ? { ignoreLease } : {}),
  };
}

function spanOf(span: KeySpan): KeySpan {
  return {
    ...(span.prefix !== undefined ? { prefix: span.prefix } : {}),
    ...(span.start !== undefined ? { start: span.start } : {}),
    ...(span.end !== undefined ? { end: span.end } : {}),
  };
}

function deleteCommand(
  request: Extract<ClientRequest | TxnRequestOp, { op: "delete" }>,
): Extract<KvCommand, { op: "delete" | "deleteRange" }> {
  const prevKv = request.prevKv ? { prevKv: true } : {};
  return "key" in request
    ? { op: "delete", key: request.key, ...prevKv }
    : { op: "deleteRange", range: userSpan(spanOf(request)), ...prevKv };
}
