import { Packr } from "msgpackr";
import type { KeySpan, KvCommand, TxnOp } from "../../storage/engines/engine.js";
import type { VectorCommand } from "../../storage/engines/vector-store.js";
import type { ClientRequest, TxnRequestOp } from "../protocol.js";

/**
 * What a normal log entry carries: a state machine command, with the client session that
 * makes it exactly-once when one is given. Encoded with msgpackr; entries with empty data are
 * the leader's no-ops.
 */
export interface LogCommand {
  readonly kv?: KvCommand;
  readonly vec?: VectorCommand;
  /** Snapshot here: every replica snapshots at the same log index (see ApplyStage). */
  readonly snapshot?: true;
  readonly session?: { readonly id: string; readonly seq: number };
  /** The leader's clock at proposal: the only time the replicated state machine sees. */
  readonly ts: number;
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

type MetaPairs = [string, string | number | boolean | null][];

/**
 * msgpackr unpacks a "__proto__" map key as "__proto_" (to keep it off the prototype chain),
 * which would rename a client's meta field on every replica. A vput's meta therefore travels
 * as [name, value] pairs and is rebuilt by Object.fromEntries, which defines each name as an
 * own field (no prototype setter runs). Entries written before carry `meta` and still decode.
 */
export function encodeCommand(command: LogCommand): Uint8Array {
  const vec = command.vec;
  if (vec?.op !== "vput" || vec.meta === undefined) return packr.pack(command);
  const { meta, ...rest } = vec;
  const metaPairs: MetaPairs = Object.entries(meta);
  return packr.pack({ ...command, vec: { ...rest, metaPairs } });
}

export function decodeCommand(data: Uint8Array): LogCommand {
  const command = packr.unpack(data) as LogCommand & { vec?: { metaPairs?: MetaPairs } };
  const vec = command.vec;
  if (vec === undefined || vec.metaPairs === undefined) return command;
  const { metaPairs, ...rest } = vec;
  return { ...command, vec: { ...rest, meta: Object.fromEntries(metaPairs) } as VectorCommand };
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
    case "put": {
      const { key, value, prevKv } = request;
      return { kv: { op: "put", key, value, ...(prevKv ? { prevKv } : {}) }, ...meta };
    }
    case "delete":
      return { kv: deleteCommand(request), ...meta };
    case "txn":
      return {
        kv: {
          op: "txn",
          compare: request.compare,
          success: request.success.map(userOp),
          failure: request.failure.map(userOp),
        },
        ...meta,
      };
    case "compact":
      return { kv: { op: "compact", revision: request.revision }, ts };
    case "cas":
      return {
        kv: { op: "cas", key: request.key, expect: request.expect, value: request.value },
        ...meta,
      };
    case "incr":
      return { kv: { op: "incr", key: request.key, delta: request.delta }, ...meta };
    case "vcreate": {
      const { op, collection, dim, metric } = request;
      const { engine: configured, ...configuredParams } =
        vectorDefaults.collections[collection] ?? {};
      const engine = request.engine ?? configured ?? vectorDefaults.engine;
      const params = { ...vectorDefaults.hnsw, ...configuredParams, ...request.params };
      return { vec: { op, collection, dim, metric, engine, params }, ...meta };
    }
    case "vput": {
      const { op, collection, key, vector, meta: fields } = request;
      return { vec: { op, collection, key, vector, ...(fields ? { meta: fields } : {}) }, ...meta };
    }
    case "vdelete":
      return { vec: { op: "vdelete", collection: request.collection, key: request.key }, ...meta };
    case "snapshot":
      return { snapshot: true, ts };
    default:
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

/** A txn op in the engine's form. */
function userOp(op: TxnRequestOp): TxnOp {
  switch (op.op) {
    case "delete":
      return deleteCommand(op);
    case "scan": {
      const { prefix, start, end, op: _, ...options } = op;
      return { op: "scan", range: userSpan(spanOf(op)), ...options };
    }
    default:
      return op;
  }
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
