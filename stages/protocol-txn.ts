/**
 * The gateway's checks for the revision fields and ops of CONTRACT §5: ranges, scan options,
 * `revision`, range deletes, `txn` and `compact`. Each bad field is a BAD_REQUEST naming it.
 */
import type { CompareOp, CompareTarget, KeySpan, ScanOptions } from "../storage/engines/engine.js";
import {
  type ClientRequest,
  ErrorCode,
  type ProtocolLimits,
  type TxnPutOp,
  type TxnRequest,
  type TxnRequestCompare,
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
import { checkOverlaps } from "./protocol-txn-overlaps.js";

/** etcd's default --max-txn-ops; here every compare and op at every level counts. */
export const MAX_TXN_OPS = 128;
/** How deep txns nest (a txn alone is 1); etcd bounds it only through its op budget. */
export const MAX_TXN_DEPTH = 16;
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

/** Decode a txn (CONTRACT §5), its nested txns (added) included; `limits` bound each field. */
export function decodeTxn(frame: Frame, limits: ProtocolLimits): ClientRequest {
  const txn = decodeTxnBody(frame, limits, 1, { used: 0 });
  // The entry a txn becomes is held to what the largest put may carry.
  const maxBytes = limits.maxKeyBytes + limits.maxValueBytes;
  if (exceedsBytes(JSON.stringify([txn.compare, txn.success, txn.failure]), maxBytes))
    throw new Invalid(ErrorCode.tooLarge, `the txn is larger than ${maxBytes} bytes`);
  checkOverlaps("success", txn.success);
  checkOverlaps("failure", txn.failure);
  return { ...txn, ...sessionFields(frame) };
}

/** How many compares and ops the txn holds so far, at every level. */
interface Budget {
  used: number;
}

function decodeTxnBody(
  frame: Frame,
  limits: ProtocolLimits,
  depth: number,
  budget: Budget,
): TxnRequest {
  const compare = counted(listField(frame, "compare"), budget).map((item, k) =>
    within(`compare[${k}]`, () => decodeCompare(object(item), limits)),
  );
  const branch = (name: string) =>
    counted(listField(frame, name), budget).map((item, k) =>
      within(`${name}[${k}]`, () => decodeTxnOp(object(item), limits, depth, budget)),
    );
  const success = branch("success");
  const failure = branch("failure");
  return { op: "txn", compare, success, failure };
}

/** Count `items` against the txn's budget before decoding them (bounds the work). */
function counted(items: unknown[], budget: Budget): unknown[] {
  budget.used += items.length;
  if (budget.used > MAX_TXN_OPS)
    throw new Invalid(
      ErrorCode.tooLarge,
      `a txn holds at most ${MAX_TXN_OPS} compares and ops, those of its nested txns included`,
    );
  return items;
}

/** One key (`key`), or every key of a range (`prefix` and/or `start`/`end`: added). */
function decodeCompare(frame: Frame, limits: ProtocolLimits): TxnRequestCompare {
  const span = spanFields(frame, limits);
  if (span !== null && frame.key !== undefined)
    throw new Invalid(ErrorCode.badRequest, '"key" and "prefix"/"start"/"end" exclude each other');
  const on = span ?? { key: keyField(frame, limits) };
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
  return { ...on, target, op, value };
}

/** A put's fields, also inside a txn: ignoreValue/ignoreLease (added) keep the key's. */
export function putFields(frame: Frame, limits: ProtocolLimits): TxnPutOp {
  const ignoreValue = flag(frame, "ignoreValue");
  const ignoreLease = flag(frame, "ignoreLease");
  if (ignoreValue.ignoreValue && frame.value !== undefined && frame.value !== "")
    throw new Invalid(ErrorCode.badRequest, '"value" must be absent or "" with "ignoreValue"');
  const value = ignoreValue.ignoreValue ? "" : stringField(frame, "value", limits.maxValueBytes);
  const lease = optionalLeaseField(frame);
  if (ignoreLease.ignoreLease && lease.lease !== undefined)
    throw new Invalid(ErrorCode.badRequest, '"lease" must be absent or null with "ignoreLease"');
  return {
    op: "put",
    key: keyField(frame, limits),
    value,
    ...lease,
    ...flag(frame, "prevKv"),
    ...ignoreValue,
    ...ignoreLease,
  };
}

function decodeTxnOp(
  frame: Frame,
  limits: ProtocolLimits,
  depth: number,
  budget: Budget,
): TxnRequestOp {
  if (frame.revision !== undefined && frame.op !== "get" && frame.op !== "scan")
    throw new Invalid(ErrorCode.badRequest, '"revision" is allowed inside a txn on a get or scan');
  const revision =
    frame.revision === undefined
      ? {}
      : { revision: intField(frame, "revision", 1, Number.MAX_SAFE_INTEGER) };
  switch (frame.op) {
    case "put":
      return putFields(frame, limits);
    case "get":
      return { op: "get", key: keyField(frame, limits), ...revision };
    case "delete": {
      const {
        session: _,
        seq: __,
        ...request
      } = decodeDelete(frame, limits) as Extract<ClientRequest, { op: "delete" }>;
      return request;
    }
    case "scan":
      return {
        op: "scan",
        ...spanFields(frame, limits),
        ...scanOptions(frame, limits),
        ...revision,
      };
    case "txn":
      if (depth >= MAX_TXN_DEPTH)
        throw new Invalid(ErrorCode.tooLarge, `txns nest at most ${MAX_TXN_DEPTH} deep`);
      return decodeTxnBody(frame, limits, depth + 1, budget);
    default:
      throw new Invalid(
        ErrorCode.badRequest,
        '"op" must be "put", "get", "delete", "scan" or "txn"',
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
