/**
 * The gateway's checks for vector ops (CONTRACT §3, §6): what passes is well-typed and within
 * limits; what does not is BAD_REQUEST (or TOO_LARGE) naming the field.
 */
import {
  type Filter,
  FilterError,
  type Meta,
  parseFilter,
} from "../storage/engines/vector-filter.js";
import { type ClientRequest, ErrorCode, type ProtocolLimits } from "./protocol.js";
import {
  consistencyField,
  exceedsBytes,
  Invalid,
  intField,
  keyField,
  sessionFields,
  stringField,
} from "./protocol-fields.js";
import type { VectorOp, VectorPoint } from "./protocol-vector-ops.js";

const COLLECTION = /^[A-Za-z0-9_.-]{1,128}$/;
const MAX_DIM = 4096;
/** Points in one vput, keys in one vget or vdelete, queries in one vsearch. */
export const MAX_BATCH = 4096;
const MAX_QUERIES = 64;
const MAX_META_BYTES = 65_536;
const MAX_META_DEPTH = 8;
const LONE_SURROGATE = /\p{Surrogate}/u;

type Frame = Record<string, unknown>;

export function decodeVectorOp(op: VectorOp, frame: Frame, limits: ProtocolLimits): ClientRequest {
  if (op === "vlist") return { op, consistency: consistencyField(frame) };
  const collection = collectionField(frame);
  switch (op) {
    case "vcreate":
      return decodeCreate(collection, frame);
    case "vput":
      return decodePut(collection, frame, limits);
    case "vset-meta": {
      const merge = optionalBool(frame, "merge") ?? false;
      const meta = metaField(frame.meta, "meta");
      if (meta === undefined) throw new Invalid(ErrorCode.badRequest, '"meta" is required');
      return { op, collection, key: keyField(frame, limits), meta, merge, ...sessionFields(frame) };
    }
    case "vdelete":
      return decodeDelete(collection, frame, limits);
    case "vdrop":
      return { op, collection, ...sessionFields(frame) };
    case "vget":
      return {
        op,
        collection,
        keys: keysField(frame, limits),
        withVector: optionalBool(frame, "withVector") ?? false,
        consistency: consistencyField(frame),
      };
    case "vcount":
      return { op, collection, ...filterField(frame), consistency: consistencyField(frame) };
    case "vscroll": {
      const cursor = frame.cursor === null ? undefined : frame.cursor;
      return {
        op,
        collection,
        ...filterField(frame),
        limit: frame.limit === undefined ? 100 : intField(frame, "limit", 1, limits.maxScanLimit),
        ...(cursor !== undefined
          ? { cursor: stringField({ cursor }, "cursor", limits.maxKeyBytes) }
          : {}),
        consistency: consistencyField(frame),
      };
    }
    case "vinfo":
      return { op, collection, consistency: consistencyField(frame) };
    case "vsearch":
      return decodeSearch(collection, frame);
  }
}

function decodeCreate(collection: string, frame: Frame): ClientRequest {
  const metric = frame.metric;
  if (metric !== "l2" && metric !== "cosine" && metric !== "ip") {
    throw new Invalid(ErrorCode.badRequest, '"metric" must be "l2", "cosine" or "ip"');
  }
  const engine = frame.engine;
  if (engine !== undefined && engine !== "hnsw" && engine !== "flat") {
    throw new Invalid(ErrorCode.badRequest, '"engine" must be "hnsw" or "flat"');
  }
  const params = frame.params === undefined ? undefined : hnswParams(frame.params);
  return {
    op: "vcreate",
    collection,
    dim: intField(frame, "dim", 1, MAX_DIM),
    metric,
    ...(engine !== undefined ? { engine } : {}),
    ...(params !== undefined ? { params } : {}),
    ...sessionFields(frame),
  };
}

/** The single form (key, vector, meta?) or a batch (points); a batch's vectors share one length. */
function decodePut(collection: string, frame: Frame, limits: ProtocolLimits): ClientRequest {
  if (frame.points === undefined) {
    return { op: "vput", collection, ...pointOf(frame, "", limits), ...sessionFields(frame) };
  }
  if ("key" in frame || "vector" in frame || "meta" in frame)
    throw new Invalid(ErrorCode.badRequest, 'give either "points" or key/vector/meta, not both');
  const list = frame.points;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_BATCH)
    throw new Invalid(ErrorCode.badRequest, `"points" must be an array of 1–${MAX_BATCH} points`);
  const points = list.map((item, k) => {
    if (typeof item !== "object" || item === null || Array.isArray(item))
      throw new Invalid(
        ErrorCode.badRequest,
        `"points[${k}]" must be an object {key, vector, meta?}`,
      );
    return pointOf(item as Frame, `points[${k}].`, limits);
  });
  const dim = points[0]!.vector.length;
  const other = points.findIndex((point) => point.vector.length !== dim);
  if (other !== -1)
    throw new Invalid(
      ErrorCode.badRequest,
      `"points[${other}].vector" has ${points[other]!.vector.length} numbers; "points[0].vector" has ${dim}`,
    );
  return { op: "vput", collection, points, ...sessionFields(frame) };
}

function pointOf(frame: Frame, prefix: string, limits: ProtocolLimits): VectorPoint {
  const meta = metaField(frame.meta, `${prefix}meta`);
  return {
    key: renamed(`${prefix}key`, () => keyField(frame, limits)),
    vector: vectorOf(frame.vector, `${prefix}vector`),
    ...(meta !== undefined ? { meta } : {}),
  };
}

/** Run a field check, naming the field by `name` (with its position) in its error. */
function renamed<T>(name: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof Invalid)
      throw new Invalid(error.code, error.message.replace(/^"[^"]*"/, `"${name}"`));
    throw error;
  }
}

function decodeDelete(collection: string, frame: Frame, limits: ProtocolLimits): ClientRequest {
  const given = ["key", "keys", "filter"].filter((name) => frame[name] !== undefined);
  if (given.length !== 1)
    throw new Invalid(ErrorCode.badRequest, 'give exactly one of "key", "keys", "filter"');
  const session = sessionFields(frame);
  if (given[0] === "key")
    return { op: "vdelete", collection, key: keyField(frame, limits), ...session };
  if (given[0] === "keys")
    return { op: "vdelete", collection, keys: keysField(frame, limits), ...session };
  return { op: "vdelete", collection, filter: filterField(frame).filter!, ...session };
}

function decodeSearch(collection: string, frame: Frame): ClientRequest {
  if ((frame.vector === undefined) === (frame.vectors === undefined))
    throw new Invalid(ErrorCode.badRequest, 'give exactly one of "vector" or "vectors"');
  let queries: { vector: number[] } | { vectors: number[][] };
  if (frame.vector !== undefined) queries = { vector: vectorOf(frame.vector, "vector") };
  else {
    const list = frame.vectors;
    if (!Array.isArray(list) || list.length === 0 || list.length > MAX_QUERIES)
      throw new Invalid(
        ErrorCode.badRequest,
        `"vectors" must be an array of 1–${MAX_QUERIES} vectors`,
      );
    queries = { vectors: list.map((vector, k) => vectorOf(vector, `vectors[${k}]`)) };
  }
  const threshold = frame.scoreThreshold;
  if (threshold !== undefined && (typeof threshold !== "number" || !Number.isFinite(threshold)))
    throw new Invalid(ErrorCode.badRequest, '"scoreThreshold" must be a finite number');
  const withVector = optionalBool(frame, "withVector");
  return {
    op: "vsearch",
    collection,
    ...queries,
    k: intField(frame, "k", 1, 1000),
    ...(frame.ef !== undefined ? { ef: intField(frame, "ef", 1, 10_000) } : {}),
    ...(frame.offset !== undefined ? { offset: intField(frame, "offset", 0, 10_000) } : {}),
    ...(threshold !== undefined ? { scoreThreshold: threshold } : {}),
    ...(withVector !== undefined ? { withVector } : {}),
    ...filterField(frame),
    consistency: consistencyField(frame),
  };
}

export function collectionField(frame: Frame): string {
  const value = frame.collection;
  if (typeof value !== "string" || !COLLECTION.test(value)) {
    throw new Invalid(ErrorCode.badRequest, '"collection" must be 1–128 letters, digits, _ . -');
  }
  return value;
}

function optionalBool(frame: Frame, name: string): boolean | undefined {
  const value = frame[name];
  if (value !== undefined && typeof value !== "boolean")
    throw new Invalid(ErrorCode.badRequest, `"${name}" must be a boolean`);
  return value;
}

function vectorOf(value: unknown, name: string): number[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_DIM) {
    throw new Invalid(ErrorCode.badRequest, `"${name}" must be an array of 1–${MAX_DIM} numbers`);
  }
  for (const x of value) {
    if (typeof x !== "number" || !Number.isFinite(x)) {
      throw new Invalid(ErrorCode.badRequest, `"${name}" must hold only finite numbers`);
    }
  }
  return value as number[];
}

function keysField(frame: Frame, limits: ProtocolLimits): string[] {
  const keys = frame.keys;
  if (!Array.isArray(keys) || keys.length === 0 || keys.length > MAX_BATCH)
    throw new Invalid(ErrorCode.badRequest, `"keys" must be an array of 1–${MAX_BATCH} keys`);
  return keys.map((key, k) => renamed(`keys[${k}]`, () => keyField({ key }, limits)));
}

function filterField(frame: Frame): { filter?: Filter } {
  if (frame.filter === undefined) return {};
  try {
    return { filter: parseFilter(frame.filter) };
  } catch (error) {
    if (error instanceof FilterError) throw new Invalid(ErrorCode.badRequest, error.message);
    throw error;
  }
}

/** meta: a JSON object (nested objects and arrays allowed), bounded in size and depth. */
export function metaField(value: unknown, name: string): Meta | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new Invalid(ErrorCode.badRequest, `"${name}" must be an object`);
  checkMetaValue(value, name, 0);
  if (exceedsBytes(JSON.stringify(value), MAX_META_BYTES))
    throw new Invalid(ErrorCode.tooLarge, `"${name}" is larger than 64 KiB`);
  return value as Meta;
}

function checkMetaValue(value: unknown, path: string, depth: number): void {
  if (value === null || typeof value === "boolean") return;
  if (typeof value === "string") {
    if (LONE_SURROGATE.test(value))
      throw new Invalid(ErrorCode.badRequest, `"${path}" is not valid Unicode`);
    return;
  }
  if (typeof value === "number") {
    if (!Number.isFinite(value))
      throw new Invalid(ErrorCode.badRequest, `"${path}" must be a finite number`);
    return;
  }
  if (depth >= MAX_META_DEPTH)
    throw new Invalid(ErrorCode.badRequest, `"${path}" nests deeper than ${MAX_META_DEPTH}`);
  if (Array.isArray(value)) {
    for (const [k, item] of value.entries()) checkMetaValue(item, `${path}[${k}]`, depth + 1);
    return;
  }
  if (typeof value !== "object") throw new Invalid(ErrorCode.badRequest, `"${path}" must be JSON`);
  for (const [field, item] of Object.entries(value as Frame)) {
    if (LONE_SURROGATE.test(field))
      throw new Invalid(ErrorCode.badRequest, `a "${path}" field name is not valid Unicode`);
    checkMetaValue(item, `${path}.${field}`, depth + 1);
  }
}

export function hnswParams(value: unknown): {
  m?: number;
  efConstruction?: number;
  efSearch?: number;
} {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Invalid(
      ErrorCode.badRequest,
      '"params" must be an object with m, efConstruction, efSearch',
    );
  }
  const params = value as Frame;
  const out: { m?: number; efConstruction?: number; efSearch?: number } = {};
  for (const [name, max] of [
    ["m", 256],
    ["efConstruction", 10_000],
    ["efSearch", 10_000],
  ] as const) {
    if (params[name] === undefined) continue;
    out[name] = intField(params, name, 2, max);
  }
  for (const name of Object.keys(params)) {
    if (!["m", "efConstruction", "efSearch"].includes(name))
      throw new Invalid(ErrorCode.badRequest, `unknown field "params.${name}"`);
  }
  return out;
}
