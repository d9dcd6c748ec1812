/**
 * The sequential specification of the KV store, one key at a time (every operation touches
 * one key, so the checker partitions histories by key and each partition is a register).
 * The semantics follow storage/engines/engine.ts `evaluate`.
 */

import type {
  CasOutput,
  DeleteOutput,
  GetOutput,
  IncrOutput,
  KvInput,
  KvOutput,
} from "./history.js";
import type { Model, StepResult } from "./linearizability.js";

/** The value of one key; null when absent. */
export type KvState = string | null;

const INTEGER = /^-?\d+$/;

/** What a KV operation does sequentially: its output and the state after it. */
export type KvEffect =
  | { readonly ok: true; readonly state: KvState; readonly output: KvOutput }
  /** The server rejects it (incr of a non-integer): a BAD_REQUEST that changes nothing. */
  | { readonly ok: false; readonly reason: string };

/** Apply one operation to a key's value. */
export function applyKv(state: KvState, input: KvInput): KvEffect {
  switch (input.op) {
    case "put":
      return { ok: true, state: input.value, output: {} };
    case "get":
      return { ok: true, state, output: { value: state } satisfies GetOutput };
    case "delete":
      return { ok: true, state: null, output: { deleted: state !== null } satisfies DeleteOutput };
    case "cas":
      return state === input.expect
        ? {
            ok: true,
            state: input.value,
            output: { succeeded: true, value: input.value } satisfies CasOutput,
          }
        : { ok: true, state, output: { succeeded: false, value: state } satisfies CasOutput };
    case "incr": {
      const base = state ?? "0";
      if (!INTEGER.test(base)) {
        return { ok: false, reason: `incr of ${quote(state)}, which is not an integer` };
      }
      const next = BigInt(base) + BigInt(input.delta);
      if (next > BigInt(Number.MAX_SAFE_INTEGER) || next < BigInt(Number.MIN_SAFE_INTEGER)) {
        return { ok: false, reason: `incr of ${quote(state)} by ${input.delta} overflows` };
      }
      const value = String(next);
      return { ok: true, state: value, output: { value } satisfies IncrOutput };
    }
  }
}

/** Does an observed output agree with the one the specification gives? */
function outputMatches(input: KvInput, expected: KvOutput, observed: KvOutput): boolean {
  switch (input.op) {
    case "put":
      return true;
    case "get":
      return (observed as GetOutput).value === (expected as GetOutput).value;
    case "delete": {
      const deleted = (observed as DeleteOutput | undefined)?.deleted;
      return deleted === undefined || deleted === (expected as DeleteOutput).deleted;
    }
    case "cas": {
      const seen = observed as CasOutput;
      const want = expected as CasOutput;
      return (
        seen.succeeded === want.succeeded && (seen.value === undefined || seen.value === want.value)
      );
    }
    case "incr":
      return String((observed as IncrOutput).value) === (expected as IncrOutput).value;
  }
}

function isStringOrNull(value: unknown): value is string | null {
  return value === null || typeof value === "string";
}

/** Why an input is malformed, or null. */
export function validateKvInput(input: KvInput): string | null {
  if (typeof input !== "object" || input === null) return "the input is not an object";
  if (typeof input.key !== "string") return "the input has no string key";
  switch (input.op) {
    case "put":
      return typeof input.value === "string" ? null : "put needs a string value";
    case "get":
    case "delete":
      return null;
    case "cas":
      if (!isStringOrNull(input.expect)) return "cas needs expect: string | null";
      return typeof input.value === "string" ? null : "cas needs a string value";
    case "incr":
      return Number.isSafeInteger(input.delta) ? null : "incr needs an integer delta";
    default:
      return `unknown operation ${JSON.stringify((input as { op?: unknown }).op)}`;
  }
}

/** Why the output of a returned operation is malformed, or null. */
export function validateKvOutput(input: KvInput, output: KvOutput): string | null {
  const record = output as Record<string, unknown> | undefined;
  switch (input.op) {
    case "put":
      return null;
    case "delete": {
      const deleted = record?.deleted;
      return deleted === undefined || typeof deleted === "boolean"
        ? null
        : "delete's output.deleted must be a boolean when given";
    }
    case "get":
      return record !== undefined && isStringOrNull(record.value)
        ? null
        : "get's output needs value: string | null";
    case "cas":
      if (record === undefined || typeof record.succeeded !== "boolean") {
        return "cas's output needs succeeded: boolean";
      }
      return record.value === undefined || isStringOrNull(record.value)
        ? null
        : "cas's output.value must be string | null";
    case "incr": {
      const value = record?.value;
      if (typeof value === "number" && Number.isSafeInteger(value)) return null;
      return typeof value === "string" && INTEGER.test(value)
        ? null
        : "incr's output needs value: an integer (decimal string or number)";
    }
  }
}

function quote(value: string | null | undefined): string {
  return value === null || value === undefined ? "null" : JSON.stringify(value);
}

/** Human-readable form of an operation, e.g. `cas("k", "a" → "b") → succeeded`. */
export function describeKv(input: KvInput, output: KvOutput | undefined): string {
  const known = output !== undefined;
  const key = JSON.stringify(input.key);
  switch (input.op) {
    case "put":
      return `put(${key}, ${quote(input.value)}) → ${known ? "ok" : "?"}`;
    case "get":
      return `get(${key}) → ${known ? quote((output as GetOutput).value) : "?"}`;
    case "delete": {
      const deleted = (output as DeleteOutput | undefined)?.deleted;
      const shown = !known ? "?" : deleted === undefined ? "ok" : deleted ? "deleted" : "absent";
      return `delete(${key}) → ${shown}`;
    }
    case "cas": {
      const call = `cas(${key}, ${quote(input.expect)} → ${quote(input.value)})`;
      if (!known) return `${call} → ?`;
      const result = output as CasOutput;
      const after = result.value === undefined ? "" : `, value ${quote(result.value)}`;
      return `${call} → ${result.succeeded ? "succeeded" : "failed"}${after}`;
    }
    case "incr": {
      const delta = input.delta >= 0 ? `+${input.delta}` : String(input.delta);
      return `incr(${key}, ${delta}) → ${known ? quote(String((output as IncrOutput).value)) : "?"}`;
    }
  }
}

/**
 * The KV model: partitioned by key; per key a register holding string | null.
 * An operation with an unknown outcome (output undefined) accepts whatever it would return;
 * an incr that the server would reject changes nothing (its BAD_REQUEST would have been left
 * out of the history had it been seen).
 */
export const kvModel: Model<KvState, KvInput, KvOutput> = {
  init: () => null,
  step(state: KvState, input: KvInput, output: KvOutput | undefined): StepResult<KvState> {
    const effect = applyKv(state, input);
    if (!effect.ok) {
      // A returned incr cannot have been rejected; an unknown one may have been: no effect.
      return output === undefined ? { ok: true, state } : { ok: false };
    }
    if (output !== undefined && !outputMatches(input, effect.output, output)) return { ok: false };
    return { ok: true, state: effect.state };
  },
  stateKey: (state) => (state === null ? "∅" : `=${state}`),
  partitionKey: (input) => input.key,
  readOnly: (input) => input.op === "get",
  observesOnly(input, output) {
    if (input.op === "get") return true;
    if (input.op === "cas") return (output as CasOutput).succeeded === false;
    return input.op === "delete" && (output as DeleteOutput | undefined)?.deleted === false;
  },
  validate(input, output, returned) {
    const inputError = validateKvInput(input);
    if (inputError !== null || !returned) return inputError;
    return validateKvOutput(input, output);
  },
  describeOperation: describeKv,
  describeState: (state) => (state === null ? "absent" : quote(state)),
};
