/**
 * The field checks of the client protocol's gateway (protocol-decode.ts): each reads one field
 * of a frame, checks its type, form and size, and throws `Invalid` with the contract's code.
 */
import { type Consistency, ErrorCode, type ProtocolLimits, type WriteSession } from "./protocol.js";

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
