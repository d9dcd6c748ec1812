/**
 * The field checks of the client protocol's gateway (protocol-decode.ts): each reads one field
 * of a frame, checks its type, form and size, and throws `Invalid` with the contract's code.
 */
import {
  type ClientRequest,
  type Consistency,
  ErrorCode,
  type ProtocolLimits,
  type WriteSession,
} from "./protocol.js";

/** A frame that breaks the protocol: answered with `code`, the connection lives on. */
export class Invalid extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const encoder = new TextEncoder();

/** Is `text` longer than `maxBytes` in UTF-8? Encodes only when the cheap bounds cannot tell. */
export function exceedsBytes(text: string, maxBytes: number): boolean {
  // A UTF-16 unit is at least 1 and at most 3 UTF-8 bytes.
  if (text.length > maxBytes) return true;
  if (text.length * 3 <= maxBytes) return false;
  return encoder.encode(text).length > maxBytes;
}

/** A lone surrogate has no UTF-8 form: engines would store U+FFFD and replicas could diverge. */
const LONE_SURROGATE = /\p{Surrogate}/u;

export function stringField(
  frame: Record<string, unknown>,
  name: string,
  maxBytes: number,
): string {
  const value = frame[name];
  if (typeof value !== "string") {
    throw new Invalid(ErrorCode.badRequest, `"${name}" must be a string`);
  }
  if (LONE_SURROGATE.test(value)) {
    throw new Invalid(
      ErrorCode.badRequest,
      `"${name}" is not valid Unicode (it holds a lone surrogate)`,
    );
  }
  if (exceedsBytes(value, maxBytes)) {
    throw new Invalid(ErrorCode.tooLarge, `"${name}" is larger than ${maxBytes} bytes`);
  }
  return value;
}

export function optionalString(
  frame: Record<string, unknown>,
  name: string,
  maxBytes: number,
): string | undefined {
  return frame[name] === undefined ? undefined : stringField(frame, name, maxBytes);
}

export function keyField(frame: Record<string, unknown>, limits: ProtocolLimits): string {
  const key = stringField(frame, "key", limits.maxKeyBytes);
  if (key.length === 0) throw new Invalid(ErrorCode.badRequest, '"key" must not be empty');
  if (key.charCodeAt(0) === 0) {
    throw new Invalid(
      ErrorCode.badRequest,
      '"key" must not start with U+0000 (reserved for the server)',
    );
  }
  return key;
}

const NODE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const ADDRESS = /^[^:\s]+:\d{1,5}$/;

export function nameField(frame: Record<string, unknown>, name: string): string {
  const value = frame[name];
  if (typeof value !== "string" || !NODE_NAME.test(value)) {
    throw new Invalid(
      ErrorCode.badRequest,
      `"${name}" must be a node name (letters, digits, _ . -)`,
    );
  }
  return value;
}

export function addressField(frame: Record<string, unknown>, name: string): string {
  const value = frame[name];
  if (
    typeof value !== "string" ||
    !ADDRESS.test(value) ||
    Number(value.split(":").pop()) > 65_535
  ) {
    throw new Invalid(ErrorCode.badRequest, `"${name}" must be host:port`);
  }
  return value;
}

const COLLECTION = /^[A-Za-z0-9_.-]{1,128}$/;
const MAX_DIM = 4096;

export function collectionField(frame: Record<string, unknown>): string {
  const value = frame.collection;
  if (typeof value !== "string" || !COLLECTION.test(value)) {
    throw new Invalid(ErrorCode.badRequest, '"collection" must be 1–128 letters, digits, _ . -');
  }
  return value;
}

export function intField(
  frame: Record<string, unknown>,
  name: string,
  min: number,
  max: number,
): number {
  const value = frame[name];
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new Invalid(ErrorCode.badRequest, `"${name}" must be an integer in [${min}, ${max}]`);
  }
  return value;
}

export function vectorField(frame: Record<string, unknown>): number[] {
  const value = frame.vector;
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_DIM) {
    throw new Invalid(ErrorCode.badRequest, `"vector" must be an array of 1–${MAX_DIM} numbers`);
  }
  for (const x of value) {
    if (typeof x !== "number" || !Number.isFinite(x)) {
      throw new Invalid(ErrorCode.badRequest, '"vector" must hold only finite numbers');
    }
  }
  return value as number[];
}

/** meta and filter: flat objects of scalars, bounded. */
export function scalarsField(
  frame: Record<string, unknown>,
  name: string,
): Record<string, string | number | boolean | null> | undefined {
  const value = frame[name];
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Invalid(
      ErrorCode.badRequest,
      `"${name}" must be an object of strings, numbers, booleans or nulls`,
    );
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > 64)
    throw new Invalid(ErrorCode.badRequest, `"${name}" may hold at most 64 fields`);
  for (const [field, scalar] of entries) {
    if (LONE_SURROGATE.test(field))
      throw new Invalid(ErrorCode.badRequest, `a "${name}" field name is not valid Unicode`);
    const ok = scalar === null || ["string", "number", "boolean"].includes(typeof scalar);
    if (!ok || (typeof scalar === "number" && !Number.isFinite(scalar))) {
      throw new Invalid(
        ErrorCode.badRequest,
        `"${name}.${field}" must be a string, number, boolean or null`,
      );
    }
    if (typeof scalar === "string" && LONE_SURROGATE.test(scalar)) {
      throw new Invalid(ErrorCode.badRequest, `"${name}.${field}" is not valid Unicode`);
    }
  }
  if (JSON.stringify(value).length > 65_536)
    throw new Invalid(ErrorCode.tooLarge, `"${name}" is larger than 64 KiB`);
  return value as Record<string, string | number | boolean | null>;
}

export function decodeVectorOp(
  op: "vcreate" | "vput" | "vdelete" | "vsearch",
  frame: Record<string, unknown>,
  limits: ProtocolLimits,
): ClientRequest {
  const collection = collectionField(frame);
  switch (op) {
    case "vcreate": {
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
        op,
        collection,
        dim: intField(frame, "dim", 1, MAX_DIM),
        metric,
        ...(engine !== undefined ? { engine } : {}),
        ...(params !== undefined ? { params } : {}),
        ...sessionFields(frame),
      };
    }
    case "vput": {
      const meta = scalarsField(frame, "meta");
      return {
        op,
        collection,
        key: keyField(frame, limits),
        vector: vectorField(frame),
        ...(meta !== undefined ? { meta } : {}),
        ...sessionFields(frame),
      };
    }
    case "vdelete":
      return { op, collection, key: keyField(frame, limits), ...sessionFields(frame) };
    case "vsearch": {
      const filter = scalarsField(frame, "filter");
      return {
        op,
        collection,
        vector: vectorField(frame),
        k: intField(frame, "k", 1, 1000),
        ...(frame.ef !== undefined ? { ef: intField(frame, "ef", 1, 10_000) } : {}),
        ...(filter !== undefined ? { filter } : {}),
        consistency: consistencyField(frame),
      };
    }
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
  const params = value as Record<string, unknown>;
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

export function consistencyField(frame: Record<string, unknown>): Consistency {
  const value = frame.consistency ?? "linearizable";
  if (value !== "linearizable" && value !== "lease" && value !== "stale") {
    throw new Invalid(
      ErrorCode.badRequest,
      '"consistency" must be "linearizable", "lease" or "stale"',
    );
  }
  return value;
}

export function sessionFields(frame: Record<string, unknown>): WriteSession {
  const { session, seq } = frame;
  if (session === undefined && seq === undefined) return {};
  if (
    typeof session !== "string" ||
    session.length === 0 ||
    session.length > 128 ||
    LONE_SURROGATE.test(session)
  ) {
    throw new Invalid(
      ErrorCode.badRequest,
      '"session" must be a non-empty, valid Unicode string of at most 128 characters',
    );
  }
  if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 1) {
    throw new Invalid(
      ErrorCode.badRequest,
      '"seq" must be a positive integer when "session" is given',
    );
  }
  return { session, seq };
}
