import { int, spanOf, text } from "./bytes.js";
import type { Call, Handlers } from "./door.js";
import { EtcdError } from "./errors.js";
import {
  type Fields,
  type HeaderOf,
  keyValue,
  type RangeShape,
  rangeResponse,
  rangeShape,
} from "./range.js";

type Request = Record<string, unknown>;

/** What the KV handlers need besides the call port. */
export interface KvContext {
  readonly maxScanLimit: number;
  readonly header: HeaderOf;
}

/** etcd's KV service (Range, Put, DeleteRange, Txn, Compact) on the native ops. */
export function kvHandlers(ctx: KvContext): Handlers {
  return {
    Range: async (call, req) => {
      const shape = rangeShape(req, ctx.maxScanLimit);
      const reply = await call(shape.frame);
      return { header: ctx.header(reply.index), ...rangeResponse(shape, reply) };
    },
    Put: (call, req) => put(ctx, call, req),
    DeleteRange: async (call, req) => {
      const reply = await call(deleteFrame(req));
      return { header: ctx.header(reply.index), ...deleteResponse(reply) };
    },
    Txn: async (call, req) => {
      const { frame, shapes } = txnFrame(req, ctx.maxScanLimit);
      const reply = await call(frame);
      return { header: ctx.header(reply.index), ...txnResponse(reply, shapes) };
    },
    Compact: async (call, req) => {
      const reply = await call({ op: "compact", revision: int(req.revision) });
      return { header: ctx.header(reply.index) };
    },
  };
}

/** ignore_value/ignore_lease are the native put's ignoreValue/ignoreLease: one entry, as etcd. */
async function put(ctx: KvContext, call: Call, req: Request): Promise<Fields> {
  const reply = await call(putFrame(req));
  return { header: ctx.header(reply.index), ...putResponse(reply) };
}

/** etcd's checkPutRequest, then the native put. */
function putFrame(req: Request): Fields {
  const ignoreValue = req.ignore_value === true;
  const ignoreLease = req.ignore_lease === true;
  const value = text(req.value as Buffer, "value");
  if (ignoreValue && value !== "") throw EtcdError.invalid("value is provided");
  const lease = String(req.lease ?? "0");
  if (ignoreLease && lease !== "0") throw EtcdError.invalid("lease is provided");
  return {
    op: "put",
    key: keyOf(req),
    value,
    ...(lease !== "0" ? { lease } : {}),
    ...(req.prev_kv === true ? { prevKv: true } : {}),
    ...(ignoreValue ? { ignoreValue } : {}),
    ...(ignoreLease ? { ignoreLease } : {}),
  };
}

function keyOf(req: Request): string {
  const key = req.key as Buffer;
  if (key === undefined || key.length === 0) throw EtcdError.emptyKey();
  return text(key, "key");
}

function putResponse(reply: Fields): Fields {
  const prev = reply.prevKv as Fields | null | undefined;
  return prev ? { prev_kv: keyValue(prev, false) } : {};
}

function deleteFrame(req: Request): Fields {
  const span = spanOf(req.key as Buffer, req.range_end as Buffer);
  return { op: "delete", ...span, ...(req.prev_kv === true ? { prevKv: true } : {}) };
}

function deleteResponse(reply: Fields): Fields {
  const deleted = typeof reply.deleted === "boolean" ? Number(reply.deleted) : reply.deleted;
  const prevKvs = (reply.prevKvs as Fields[] | undefined) ?? [];
  return { deleted, prev_kvs: prevKvs.map((kv) => keyValue(kv, false)) };
}

// ------------------------------------------------------------ txn

const COMPARE_TARGETS: Record<string, [string, string]> = {
  VERSION: ["version", "version"],
  CREATE: ["createRevision", "create_revision"],
  MOD: ["modRevision", "mod_revision"],
  VALUE: ["value", "value"],
  LEASE: ["lease", "lease"],
};
const COMPARE_RESULTS: Record<string, string> = {
  EQUAL: "==",
  NOT_EQUAL: "!=",
  LESS: "<",
  GREATER: ">",
};

/** How each op's native result becomes etcd's ResponseOp. */
type OpShape =
  | { readonly kind: "range"; readonly shape: RangeShape }
  | { readonly kind: "put" | "delete" }
  | { readonly kind: "txn"; readonly branches: BranchShapes };

/** The failure branch's shapes, then the success branch's (indexed by `succeeded`). */
type BranchShapes = readonly [readonly OpShape[], readonly OpShape[]];

/** etcd's TxnRequest as a native txn; a request_txn op becomes a nested native txn. */
function txnFrame(req: Request, maxScanLimit: number): { frame: Fields; shapes: BranchShapes } {
  const compare = ((req.compare as Request[]) ?? []).map((c) => compareOf(c));
  const success = branch(req.success as Request[], maxScanLimit);
  const failure = branch(req.failure as Request[], maxScanLimit);
  return {
    frame: { op: "txn", compare, success: success.ops, failure: failure.ops },
    shapes: [failure.shapes, success.shapes],
  };
}

/** A compare with range_end holds for every key of [key, range_end), as etcd's applyCompare. */
function compareOf(c: Request): Fields {
  const [target, field] = COMPARE_TARGETS[c.target as string] ?? [];
  const op = COMPARE_RESULTS[c.result as string];
  if (target === undefined || field === undefined || op === undefined)
    throw EtcdError.invalid("unknown compare target or result");
  const on = spanOf(c.key as Buffer, c.range_end as Buffer);
  if (target === "value") return { ...on, target, op, value: text(c.value as Buffer, "value") };
  if (target === "lease") {
    const lease = String(c.lease ?? "0");
    return { ...on, target, op, value: lease === "0" ? null : lease };
  }
  return { ...on, target, op, value: int(c[field]) };
}

function branch(
  ops: Request[] | undefined,
  maxScanLimit: number,
): { ops: Fields[]; shapes: OpShape[] } {
  const out: Fields[] = [];
  const shapes: OpShape[] = [];
  for (const op of ops ?? []) {
    if (op.request_range) {
      // A revision is read at that revision, inside the txn too (etcd's checkRequestRange).
      const shape = rangeShape(op.request_range as Request, maxScanLimit);
      const { consistency: _, ...frame } = shape.frame;
      out.push(frame);
      shapes.push({ kind: "range", shape });
    } else if (op.request_put) {
      out.push(putFrame(op.request_put as Request));
      shapes.push({ kind: "put" });
    } else if (op.request_delete_range) {
      out.push(deleteFrame(op.request_delete_range as Request));
      shapes.push({ kind: "delete" });
    } else if (op.request_txn) {
      const nested = txnFrame(op.request_txn as Request, maxScanLimit);
      out.push(nested.frame);
      shapes.push({ kind: "txn", branches: nested.shapes });
    } else throw EtcdError.invalid("a txn request op is empty");
  }
  return { ops: out, shapes };
}

/** The native txn result as etcd's TxnResponse (nested: response_txn), without its header. */
function txnResponse(reply: Fields, shapes: BranchShapes): Fields {
  const succeeded = reply.succeeded === true;
  const branchShapes = shapes[succeeded ? 1 : 0];
  const results = (reply.results as Fields[]) ?? [];
  const responses = results.map((result, k) => {
    const shape = branchShapes[k];
    switch (shape?.kind) {
      case "range":
        return { response_range: { header: {}, ...rangeResponse(shape.shape, result) } };
      case "delete":
        return { response_delete_range: { header: {}, ...deleteResponse(result) } };
      case "txn":
        return { response_txn: { header: {}, ...txnResponse(result, shape.branches) } };
      default:
        return { response_put: { header: {}, ...putResponse(result) } };
    }
  });
  return { succeeded, responses };
}
