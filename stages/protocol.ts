/**
 * The client protocol (../shared/CONTRACT.md §3): one JSON object per WebSocket text frame.
 * Decoding is the gateway: what passes here is well-typed and within limits. The client
 * library imports this file too, so both sides agree on names and codes.
 */

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
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export type RequestId = number | string;
export type Consistency = "linearizable" | "lease" | "stale";

interface WriteSession {
  readonly session?: string;
  readonly seq?: number;
}

export type ClientRequest =
  | ({ readonly op: "put"; readonly key: string; readonly value: string } & WriteSession)
  | ({ readonly op: "delete"; readonly key: string } & WriteSession)
  | ({
      readonly op: "cas";
      readonly key: string;
      readonly expect: string | null;
      readonly value: string;
    } & WriteSession)
  | ({ readonly op: "incr"; readonly key: string; readonly delta: number } & WriteSession)
  | { readonly op: "get"; readonly key: string; readonly consistency: Consistency }
  | {
      readonly op: "scan";
      readonly prefix?: string;
      readonly start?: string;
      readonly end?: string;
      readonly limit: number;
      readonly consistency: Consistency;
    }
  | { readonly op: "status" }
  | { readonly op: "members" }
  | {
      readonly op: "member-add";
      readonly name: string;
      readonly peer: string;
      readonly client: string;
      readonly voter: boolean;
    }
  | { readonly op: "member-remove"; readonly name: string }
  | { readonly op: "member-promote"; readonly name: string }
  | { readonly op: "transfer-leader"; readonly to: string }
  | { readonly op: "snapshot" }
  | ({
      readonly op: "vcreate";
      readonly collection: string;
      readonly dim: number;
      readonly metric: "l2" | "cosine" | "ip";
      readonly engine?: "hnsw" | "flat";
      readonly params?: {
        readonly m?: number;
        readonly efConstruction?: number;
        readonly efSearch?: number;
      };
    } & WriteSession)
  | ({
      readonly op: "vput";
      readonly collection: string;
      readonly key: string;
      readonly vector: readonly number[];
      readonly meta?: Readonly<Record<string, string | number | boolean | null>>;
    } & WriteSession)
  | ({ readonly op: "vdelete"; readonly collection: string; readonly key: string } & WriteSession)
  | {
      readonly op: "vsearch";
      readonly collection: string;
      readonly vector: readonly number[];
      readonly k: number;
      readonly ef?: number;
      readonly filter?: Readonly<Record<string, string | number | boolean | null>>;
      readonly consistency: Consistency;
    };

export type ClientOp = ClientRequest["op"];
export type WriteOp = "put" | "delete" | "cas" | "incr";

export const writeOps: Record<ClientOp, boolean> = {
  put: true,
  delete: true,
  cas: true,
  incr: true,
  get: false,
  scan: false,
  status: false,
  members: false,
  "member-add": false,
  "member-remove": false,
  "member-promote": false,
  "transfer-leader": false,
  snapshot: false,
  vcreate: true,
  vput: true,
  vdelete: true,
  vsearch: false,
};

/** Ops that need a connection opened with the admin token (when auth is on). */
export const adminOps: Record<ClientOp, boolean> = {
  put: false,
  delete: false,
  cas: false,
  incr: false,
  get: false,
  scan: false,
  status: false,
  members: false,
  "member-add": true,
  "member-remove": true,
  "member-promote": true,
  "transfer-leader": true,
  snapshot: true,
  vcreate: false,
  vput: false,
  vdelete: false,
  vsearch: false,
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

class Invalid extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const encoder = new TextEncoder();

/** Is `text` longer than `maxBytes` in UTF-8? Encodes only when the cheap bounds cannot tell. */
function exceedsBytes(text: string, maxBytes: number): boolean {
  // A UTF-16 unit is at least 1 and at most 3 UTF-8 bytes.
  if (text.length > maxBytes) return true;
  if (text.length * 3 <= maxBytes) return false;
  return encoder.encode(text).length > maxBytes;
}

/** A lone surrogate has no UTF-8 form: engines would store U+FFFD and replicas could diverge. */
const LONE_SURROGATE = /\p{Surrogate}/u;

function stringField(frame: Record<string, unknown>, name: string, maxBytes: number): string {
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

function optionalString(
  frame: Record<string, unknown>,
  name: string,
  maxBytes: number,
): string | undefined {
  return frame[name] === undefined ? undefined : stringField(frame, name, maxBytes);
}

function keyField(frame: Record<string, unknown>, limits: ProtocolLimits): string {
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

function nameField(frame: Record<string, unknown>, name: string): string {
  const value = frame[name];
  if (typeof value !== "string" || !NODE_NAME.test(value)) {
    throw new Invalid(
      ErrorCode.badRequest,
      `"${name}" must be a node name (letters, digits, _ . -)`,
    );
  }
  return value;
}

function addressField(frame: Record<string, unknown>, name: string): string {
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

function collectionField(frame: Record<string, unknown>): string {
  const value = frame.collection;
  if (typeof value !== "string" || !COLLECTION.test(value)) {
    throw new Invalid(ErrorCode.badRequest, '"collection" must be 1–128 letters, digits, _ . -');
  }
  return value;
}

function intField(frame: Record<string, unknown>, name: string, min: number, max: number): number {
  const value = frame[name];
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new Invalid(ErrorCode.badRequest, `"${name}" must be an integer in [${min}, ${max}]`);
  }
  return value;
}

function vectorField(frame: Record<string, unknown>): number[] {
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
function scalarsField(
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

function decodeVectorOp(
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

function hnswParams(value: unknown): { m?: number; efConstruction?: number; efSearch?: number } {
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

function consistencyField(frame: Record<string, unknown>): Consistency {
  const value = frame.consistency ?? "linearizable";
  if (value !== "linearizable" && value !== "lease" && value !== "stale") {
    throw new Invalid(
      ErrorCode.badRequest,
      '"consistency" must be "linearizable", "lease" or "stale"',
    );
  }
  return value;
}

function sessionFields(frame: Record<string, unknown>): WriteSession {
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

function decodeOp(frame: Record<string, unknown>, limits: ProtocolLimits): ClientRequest {
  const op = frame.op;
  switch (op) {
    case "put":
      return {
        op,
        key: keyField(frame, limits),
        value: stringField(frame, "value", limits.maxValueBytes),
        ...sessionFields(frame),
      };
    case "delete":
      return { op, key: keyField(frame, limits), ...sessionFields(frame) };
    case "cas": {
      const expect =
        frame.expect === null ? null : stringField(frame, "expect", limits.maxValueBytes);
      if (!("expect" in frame))
        throw new Invalid(ErrorCode.badRequest, '"expect" is required (null = must be absent)');
      return {
        op,
        key: keyField(frame, limits),
        expect,
        value: stringField(frame, "value", limits.maxValueBytes),
        ...sessionFields(frame),
      };
    }
    case "incr": {
      const delta = frame.delta;
      if (typeof delta !== "number" || !Number.isSafeInteger(delta)) {
        throw new Invalid(ErrorCode.badRequest, '"delta" must be an integer');
      }
      return { op, key: keyField(frame, limits), delta, ...sessionFields(frame) };
    }
    case "get":
      return { op, key: keyField(frame, limits), consistency: consistencyField(frame) };
    case "scan": {
      const limit = frame.limit ?? limits.maxScanLimit;
      if (
        typeof limit !== "number" ||
        !Number.isSafeInteger(limit) ||
        limit < 1 ||
        limit > limits.maxScanLimit
      ) {
        throw new Invalid(
          ErrorCode.badRequest,
          `"limit" must be an integer in [1, ${limits.maxScanLimit}]`,
        );
      }
      const prefix = optionalString(frame, "prefix", limits.maxKeyBytes);
      const start = optionalString(frame, "start", limits.maxKeyBytes);
      const end = optionalString(frame, "end", limits.maxKeyBytes);
      return {
        op,
        limit,
        consistency: consistencyField(frame),
        ...(prefix !== undefined ? { prefix } : {}),
        ...(start !== undefined ? { start } : {}),
        ...(end !== undefined ? { end } : {}),
      };
    }
    case "status":
    case "members":
    case "snapshot":
      return { op };
    case "member-add": {
      const voter = frame.voter ?? true;
      if (typeof voter !== "boolean")
        throw new Invalid(ErrorCode.badRequest, '"voter" must be a boolean');
      return {
        op,
        name: nameField(frame, "name"),
        peer: addressField(frame, "peer"),
        client: addressField(frame, "client"),
        voter,
      };
    }
    case "member-remove":
    case "member-promote":
      return { op, name: nameField(frame, "name") };
    case "vcreate":
    case "vput":
    case "vdelete":
    case "vsearch":
      return decodeVectorOp(op, frame, limits);
    case "transfer-leader":
      return { op, to: nameField(frame, "to") };
    default:
      throw new Invalid(
        ErrorCode.badRequest,
        typeof op === "string" ? `unknown op "${op.slice(0, 64)}"` : '"op" must be a string',
      );
  }
}

/** Decode one text frame. Never throws: bad input becomes an error reply. */
export function decodeRequest(
  text: string,
  limits: ProtocolLimits = defaultProtocolLimits,
): DecodeResult {
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch {
    return {
      ok: false,
      id: null,
      error: { code: ErrorCode.badRequest, message: "frame is not valid JSON" },
    };
  }
  if (typeof frame !== "object" || frame === null || Array.isArray(frame)) {
    return {
      ok: false,
      id: null,
      error: { code: ErrorCode.badRequest, message: "frame must be a JSON object" },
    };
  }
  const fields = frame as Record<string, unknown>;
  const id = fields.id;
  const validId =
    (typeof id === "number" && Number.isFinite(id)) || (typeof id === "string" && id.length <= 256);
  if (!validId) {
    return {
      ok: false,
      id: null,
      error: { code: ErrorCode.badRequest, message: '"id" must be a number or a string' },
    };
  }
  try {
    return { ok: true, id: id as RequestId, request: decodeOp(fields, limits) };
  } catch (error) {
    if (error instanceof Invalid)
      return {
        ok: false,
        id: id as RequestId,
        error: { code: error.code, message: error.message },
      };
    throw error;
  }
}

export function encodeSuccess(id: RequestId, result: Record<string, unknown>): string {
  return JSON.stringify({ id, ok: true, ...result });
}

export function encodeError(id: RequestId | null, error: ErrorBody): string {
  return JSON.stringify({ id, ok: false, error });
}
