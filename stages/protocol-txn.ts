/**
 * The gateway's checks for the revision fields and ops of CONTRACT §5: ranges, scan options,
 * `revision`, range deletes, `txn` and `compact`. Each bad field is a BAD_REQUEST naming it.
 */
import type {
  CompareOp,
  CompareTarget,
  KeySpan,
  ScanOptions,
  TxnCompare,
} from "../storage/engines/engine.js";
import { inRange } from "../storage/engines/engine.js";
import {
  type ClientRequest,
  ErrorCode,
  type ProtocolLimits,
  type TxnRequestOp,
} from "./protocol.js";
import { optionalLeaseField } from "./protocol-decode-leases.js";
import {
  exceedsBytes,
  Invalid,
  intField,
  keyField,
  optionalString,
  sessionFields,
  stringField,
} from "./protocol-fields.js";
import { isLeaseId } from "./protocol-leases.js";

/** etcd's default --max-txn-ops. */
export const MAX_TXN_OPS = 128;
const TARGETS: readonly CompareTarget[] = [
  "value",
  "version",
  "createRevision",
  "modRevision",
  "lease",
];
const COMPARE_OPS: readonly CompareOp[] = ["==", "!=", "<", ">"];

type Frame = Record<string, unknown>;

export function optionalBool(frame: Frame, name: string): boolean | undefined {
  const value = frame[name];
  if (value === undefined) return undefined;
  if (typeof value !== "boolean")
    throw new Invalid(ErrorCode.badRequest, `"${name}" must be a boolean`);
  return value;
}

/** An optional boolean, left out of the request when false or absent. */
function flag<N extends string>(frame: Frame, name: N): { [K in N]?: true } {
  return (optionalBool(frame, name) ? { [name]: true } : {}) as { [K in N]?: true };
}

export function revisionField(frame: Frame): { revision?: number } {
  if (frame.revision === undefined) return {};
  return { revision: intField(frame, "revision", 0, Number.MAX_SAFE_INTEGER) };
}

/** prefix and/or start/end; null when the frame names none of them. */
export function spanFields(frame: Frame, limits: ProtocolLimits): KeySpan | null {
  const prefix = optionalString(frame, "prefix", limits.maxKeyBytes);
  const start = optionalString(frame, "start", limits.maxKeyBytes);
  const end = optionalString(frame, "end", limits.maxKeyBytes);
  if (prefix === undefined && start === undefined && end === undefined) return null;
  return {
    ...(prefix !== undefined ? { prefix } : {}),
    ...(start !== undefined ? { start } : {}),
    ...(end !== undefined ? { end } : {}),
  };
}

export function scanOptions(frame: Frame, limits: ProtocolLimits): ScanOptions {
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
  return { limit, ...flag(frame, "keysOnly"), ...flag(frame, "countOnly") };
}

/** delete of one key, or of a prefix or start/end. */
export function decodeDelete(frame: Frame, limits: ProtocolLimits): ClientRequest {
  const span = spanFields(frame, limits);
  const prevKv = flag(frame, "prevKv");
  if (span !== null && frame.key !== undefined)
    throw new Invalid(ErrorCode.badRequest, '"key" and "prefix"/"start"/"end" exclude each other');
  if (span !== null) return { op: "delete", ...span, ...prevKv, ...sessionFields(frame) };
  return { op: "delete", key: keyField(frame, limits), ...prevKv, ...sessionFields(frame) };
}

export function decodeCompact(frame: Frame): ClientRequest {
  return { op: "compact", revision: intField(frame, "revision", 0, Number.MAX_SAFE_INTEGER) };
}

export function decodeTxn(frame: Frame, limits: ProtocolLimits): ClientRequest {
  const compare = listField(frame, "compare").map((item, k) =>
    within(`compare[${k}]`, () => decodeCompare(object(item), limits)),
  );
  const success = branch(frame, "success", limits);
  const failure = branch(frame, "failure", limits);
  if (compare.length + success.length + failure.length > MAX_TXN_OPS)
    throw new Invalid(ErrorCode.tooLarge, `a txn holds at most ${MAX_TXN_OPS} compares and ops`);
  // The entry a txn becomes is held to what the largest put may carry.
  const maxBytes = limits.maxKeyBytes + limits.maxValueBytes;
  if (exceedsBytes(JSON.stringify([compare, success, failure]), maxBytes))
    throw new Invalid(ErrorCode.tooLarge, `the txn is larger than ${maxBytes} bytes`);
  return { op: "txn", compare, success, failure, ...sessionFields(frame) };
}

function branch(frame: Frame, name: string, limits: ProtocolLimits): TxnRequestOp[] {
  const ops = listField(frame, name).map((item, k) =>
    within(`${name}[${k}]`, () => decodeTxnOp(object(item), limits)),
  );
  checkDuplicates(name, ops);
  return ops;
}

function decodeCompare(frame: Frame, limits: ProtocolLimits): TxnCompare {
  const key = keyField(frame, limits);
  const target = frame.target as CompareTarget;
  if (!TARGETS.includes(target))
    throw new Invalid(ErrorCode.badRequest, `"target" must be one of ${TARGETS.join(", ")}`);
  const op = frame.op as CompareOp;
  if (!COMPARE_OPS.includes(op))
    throw new Invalid(ErrorCode.badRequest, `"op" must be one of ${COMPARE_OPS.join(" ")}`);
  let value: string | number | null;
  if (target === "value") value = stringField(frame, "value", limits.maxValueBytes);
  else if (target === "lease") {
    value = frame.value === null ? null : String(frame.value);
    if (value !== null && (typeof frame.value !== "string" || !isLeaseId(value)))
      throw new Invalid(ErrorCode.badRequest, '"value" must be a lease id (string) or null');
  } else value = intField(frame, "value", 0, Number.MAX_SAFE_INTEGER);
  return { key, target, op, value };
}

function decodeTxnOp(frame: Frame, limits: ProtocolLimits): TxnRequestOp {
  if (frame.revision !== undefined)
    throw new Invalid(ErrorCode.badRequest, '"revision" is not allowed inside a txn');
  const prevKv = flag(frame, "prevKv");
  switch (frame.op) {
    case "put":
      return {
        op: "put",
        key: keyField(frame, limits),
        value: stringField(frame, "value", limits.maxValueBytes),
        ...optionalLeaseField(frame),
        ...prevKv,
      };
    case "get":
      return { op: "get", key: keyField(frame, limits) };
    case "delete": {
      const {
        session: _,
        seq: __,
        ...request
      } = decodeDelete(frame, limits) as Extract<ClientRequest, { op: "delete" }>;
      return request;
    }
    case "scan":
      return { op: "scan", ...spanFields(frame, limits), ...scanOptions(frame, limits) };
    default:
      throw new Invalid(ErrorCode.badRequest, '"op" must be "put", "get", "delete" or "scan"');
  }
}

/** As etcd: a branch may not write one key twice (two puts, or a put and a delete of it). */
function checkDuplicates(name: string, ops: readonly TxnRequestOp[]): void {
  const puts = new Set<string>();
  for (const op of ops) {
    if (op.op !== "put") continue;
    if (puts.has(op.key))
      throw new Invalid(ErrorCode.badRequest, `"${name}": the key ${quote(op.key)} is put twice`);
    puts.add(op.key);
  }
  for (const op of ops) {
    if (op.op !== "delete") continue;
    const hit =
      "key" in op
        ? puts.has(op.key)
          ? op.key
          : undefined
        : [...puts].find((key) => inRange(key, op));
    if (hit !== undefined)
      throw new Invalid(
        ErrorCode.badRequest,
        `"${name}": the key ${quote(hit)} is both put and deleted`,
      );
  }
}

function listField(frame: Frame, name: string): unknown[] {
  const value = frame[name] ?? [];
  if (!Array.isArray(value)) throw new Invalid(ErrorCode.badRequest, `"${name}" must be an array`);
  if (value.length > MAX_TXN_OPS)
    throw new Invalid(ErrorCode.tooLarge, `"${name}" holds more than ${MAX_TXN_OPS} items`);
  return value;
}

function object(value: unknown): Frame {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new Invalid(ErrorCode.badRequest, "must be an object");
  return value as Frame;
}

/** Run a nested decode, naming where a bad field sits ("success[2]: ..."). */
function within<T>(path: string, decode: () => T): T {
  try {
    return decode();
  } catch (error) {
    if (error instanceof Invalid) throw new Invalid(error.code, `${path}: ${error.message}`);
    throw error;
  }
}

function quote(key: string): string {
  return JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}…` : key);
}
