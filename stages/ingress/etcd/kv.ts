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

/** The most rounds of read-then-compare an ignore_value/ignore_lease put takes. */
const IGNORE_ROUNDS = 8;

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

async function put(ctx: KvContext, call: Call, req: Request): Promise<Fields> {
  const { frame, ignoreValue } = putFrame(req);
  if (!ignoreValue && req.ignore_lease !== true) {
    const reply = await call(frame);
    return { header: ctx.header(reply.index), ...putResponse(reply) };
  }
  // The current value (or lease) is kept: read it, then write only if the key did not change
  // meanwhile (a txn on its modRevision), as etcd does it in one step.
  for (let round = 0; round < IGNORE_ROUNDS; round++) {
    const current = await call({ op: "get", key: frame.key });
    if (current.found !== true) throw EtcdError.keyNotFound();
    const value = ignoreValue ? current.value : frame.value;
    // ignore_lease keeps the key's lease; without it a put names its own (or none).
    const lease = req.ignore_lease === true ? current.lease : frame.lease;
    const { lease: _, ...rest } = frame;
    const reply = await call({
      op: "txn",
      compare: [{ key: frame.key, target: "modRevision", op: "==", value: current.modRevision }],
      success: [{ ...rest, value, ...(typeof lease === "string" ? { lease } : {}) }],
      failure: [],
    });
    if (reply.succeeded !== true) continue;
    const [result] = reply.results as Fields[];
    return { header: ctx.header(reply.index), ...putResponse(result ?? {}) };
  }
  throw EtcdError.invalid("the key kept changing during a put with ignore_value; retry");
}

function putFrame(req: Request): {
  frame: Fields & { key: string; value: string };
  ignoreValue: boolean;
} {
  const ignoreValue = req.ignore_value === true;
  const value = text(req.value as Buffer, "value");
  if (ignoreValue && value !== "") throw EtcdError.invalid("value is provided");
  const lease = String(req.lease ?? "0");
  if (req.ignore_lease === true && lease !== "0") throw EtcdError.invalid("lease is provided");
  const key = keyOf(req);
  return {
    frame: {
      op: "put",
      key,
      value,
      ...(lease !== "0" ? { lease } : {}),
      ...(req.prev_kv === true ? { prevKv: true } : {}),
    },
    ignoreValue,
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

function txnFrame(
  req: Request,
  maxScanLimit: number,
): { frame: Fields; shapes: (RangeShape | null)[][] } {
  const compare = ((req.compare as Request[]) ?? []).map((c) => compareOf(c));
  const success = branch(req.success as Request[], maxScanLimit);
  const failure = branch(req.failure as Request[], maxScanLimit);
  return {
    frame: { op: "txn", compare, success: success.ops, failure: failure.ops },
    shapes: [failure.shapes, success.shapes],
  };
}

function compareOf(c: Request): Fields {
  if ((c.range_end as Buffer | undefined)?.length)
    throw EtcdError.unimplemented("a compare over a key range (range_end) is not supported");
  const [target, field] = COMPARE_TARGETS[c.target as string] ?? [];
  const op = COMPARE_RESULTS[c.result as string];
  if (target === undefined || field === undefined || op === undefined)
    throw EtcdError.invalid("unknown compare target or result");
  const key = keyOf(c);
  if (target === "value") return { key, target, op, value: text(c.value as Buffer, "value") };
  if (target === "lease") {
    const lease = String(c.lease ?? "0");
    return { key, target, op, value: lease === "0" ? null : lease };
  }
  return { key, target, op, value: int(c[field]) };
}

function branch(
  ops: Request[] | undefined,
  maxScanLimit: number,
): { ops: Fields[]; shapes: (RangeShape | null)[] } {
  const out: Fields[] = [];
  const shapes: (RangeShape | null)[] = [];
  for (const op of ops ?? []) {
    if (op.request_range) {
      const range = op.request_range as Request;
      if (int(range.revision) > 0)
        throw EtcdError.unimplemented("a range at a revision inside a txn is not supported");
      const shape = rangeShape(range, maxScanLimit);
      const { consistency: _, ...frame } = shape.frame;
      out.push(frame);
      shapes.push(shape);
    } else if (op.request_put) {
      const { frame, ignoreValue } = putFrame(op.request_put as Request);
      if (ignoreValue || (op.request_put as Request).ignore_lease === true)
        throw EtcdError.unimplemented(
          "ignore_value and ignore_lease inside a txn are not supported",
        );
      out.push(frame);
      shapes.push(null);
    } else if (op.request_delete_range) {
      out.push(deleteFrame(op.request_delete_range as Request));
      shapes.push(null);
    } else if (op.request_txn) {
      throw EtcdError.unimplemented("a txn nested inside a txn is not supported");
    } else throw EtcdError.invalid("a txn request op is empty");
  }
  return { ops: out, shapes };
}

function txnResponse(reply: Fields, shapes: (RangeShape | null)[][]): Fields {
  const succeeded = reply.succeeded === true;
  const branchShapes = shapes[succeeded ? 1 : 0] ?? [];
  const results = (reply.results as Fields[]) ?? [];
  const responses = results.map((result, k) => {
    const shape = branchShapes[k];
    if (shape) return { response_range: { header: {}, ...rangeResponse(shape, result) } };
    if ("deleted" in result)
      return { response_delete_range: { header: {}, ...deleteResponse(result) } };
    return { response_put: { header: {}, ...putResponse(result) } };
  });
  return { succeeded, responses };
}
