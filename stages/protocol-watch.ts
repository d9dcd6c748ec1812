/**
 * The gateway checks of `watch` and `cancel-watch` (CONTRACT §5), hooked into
 * protocol-decode.ts: what passes here is well-typed and names one range.
 */
import { compareKeys } from "../storage/engines/engine.js";
import {
  type ClientRequest,
  ErrorCode,
  type ProtocolLimits,
  type WatchRequest,
} from "./protocol.js";
import { Invalid, keyField, optionalString } from "./protocol-fields.js";

/** The largest watch id or revision a frame may name (a JSON number stays exact below it). */
const maxSafe = Number.MAX_SAFE_INTEGER;

export function decodeWatchOp(
  op: "watch" | "cancel-watch",
  frame: Record<string, unknown>,
  limits: ProtocolLimits,
): ClientRequest {
  if (op === "cancel-watch") return { op, watch: positiveInt(frame, "watch") };
  return decodeWatch(frame, limits);
}

function decodeWatch(frame: Record<string, unknown>, limits: ProtocolLimits): WatchRequest {
  const startRevision =
    frame.startRevision === undefined ? undefined : positiveInt(frame, "startRevision");
  const flags = {
    prevKv: boolFlag(frame, "prevKv"),
    noPut: boolFlag(frame, "noPut"),
    noDelete: boolFlag(frame, "noDelete"),
  };
  const base = { op: "watch" as const, ...flags, ...(startRevision ? { startRevision } : {}) };
  const forms = ["key", "prefix", "start", "end"].filter((name) => frame[name] !== undefined);
  if (forms.length === 0)
    throw new Invalid(ErrorCode.badRequest, '"key", "prefix" or "start"/"end" is required');
  if (forms.includes("key")) {
    if (forms.length > 1)
      throw new Invalid(ErrorCode.badRequest, `"key" cannot be combined with "${forms[1]}"`);
    return { ...base, key: keyField(frame, limits) };
  }
  if (forms.includes("prefix")) {
    if (forms.length > 1)
      throw new Invalid(ErrorCode.badRequest, `"prefix" cannot be combined with "${forms[1]}"`);
    return { ...base, prefix: optionalString(frame, "prefix", limits.maxKeyBytes)! };
  }
  const start = optionalString(frame, "start", limits.maxKeyBytes);
  const end = optionalString(frame, "end", limits.maxKeyBytes);
  if (start !== undefined && end !== undefined && compareKeys(start, end) >= 0)
    throw new Invalid(ErrorCode.badRequest, '"end" must sort after "start"');
  return {
    ...base,
    ...(start !== undefined ? { start } : {}),
    ...(end !== undefined ? { end } : {}),
  };
}

function positiveInt(frame: Record<string, unknown>, name: string): number {
  const value = frame[name];
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1 || value > maxSafe)
    throw new Invalid(ErrorCode.badRequest, `"${name}" must be an integer ≥ 1`);
  return value;
}

function boolFlag(frame: Record<string, unknown>, name: string): boolean {
  const value = frame[name] ?? false;
  if (typeof value !== "boolean")
    throw new Invalid(ErrorCode.badRequest, `"${name}" must be a boolean`);
  return value;
}
