import {
  type ClientRequest,
  type DecodeResult,
  defaultProtocolLimits,
  ErrorCode,
  type ProtocolLimits,
  type RequestId,
} from "./protocol.js";
import { decodeLeaseOp } from "./protocol-decode-leases.js";
import {
  addressField,
  consistencyField,
  Invalid,
  keyField,
  nameField,
  sessionFields,
  stringField,
} from "./protocol-fields.js";
import {
  decodeCompact,
  decodeDelete,
  decodeTxn,
  putFields,
  revisionField,
  scanOptions,
  spanFields,
} from "./protocol-txn.js";
import { decodeVectorOp } from "./protocol-vector.js";
import { isVectorOp } from "./protocol-vector-ops.js";
import { decodeWatchOp } from "./protocol-watch.js";

/** Kinds of ops decoded apart from the others. */
type KvOp = "put" | "delete" | "cas" | "incr" | "get" | "scan";

function decodeOp(frame: Record<string, unknown>, limits: ProtocolLimits): ClientRequest {
  const op = frame.op;
  switch (op) {
    case "put":
    case "delete":
    case "cas":
    case "incr":
    case "get":
    case "scan":
      return decodeKvOp(op, frame, limits);
    case "status":
    case "members":
    case "snapshot":
      return { op };
    case "member-add":
      return decodeMemberAdd(frame);
    case "member-remove":
    case "member-promote":
      return { op, name: nameField(frame, "name") };
    case "transfer-leader":
      return { op, to: nameField(frame, "to") };
    case "watch":
    case "cancel-watch":
      return decodeWatchOp(op, frame, limits);
    case "txn":
      return decodeTxn(frame, limits);
    case "compact":
      return decodeCompact(frame);
    case "lease-grant":
    case "lease-keepalive":
    case "lease-revoke":
    case "lease-ttl":
    case "lease-list":
      return decodeLeaseOp(op, frame);
    default:
      if (typeof op === "string" && isVectorOp(op)) return decodeVectorOp(op, frame, limits);
      throw new Invalid(
        ErrorCode.badRequest,
        typeof op === "string" ? `unknown op "${op.slice(0, 64)}"` : '"op" must be a string',
      );
  }
}

function decodeKvOp(
  op: KvOp,
  frame: Record<string, unknown>,
  limits: ProtocolLimits,
): ClientRequest {
  switch (op) {
    case "put":
      return { ...putFields(frame, limits), ...sessionFields(frame) };
    case "delete":
      return decodeDelete(frame, limits);
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
      return {
        op,
        key: keyField(frame, limits),
        consistency: consistencyField(frame),
        ...revisionField(frame),
      };
    case "scan":
      return decodeScan(frame, limits);
  }
}

function decodeScan(frame: Record<string, unknown>, limits: ProtocolLimits): ClientRequest {
  return {
    op: "scan",
    ...scanOptions(frame, limits),
    consistency: consistencyField(frame),
    ...spanFields(frame, limits),
    ...revisionField(frame),
  };
}

function decodeMemberAdd(frame: Record<string, unknown>): ClientRequest {
  const voter = frame.voter ?? true;
  if (typeof voter !== "boolean")
    throw new Invalid(ErrorCode.badRequest, '"voter" must be a boolean');
  return {
    op: "member-add",
    name: nameField(frame, "name"),
    peer: addressField(frame, "peer"),
    // null (not absent: that stays BAD_REQUEST): learned from the member's hello.
    client: frame.client === null ? null : addressField(frame, "client"),
    voter,
  };
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
