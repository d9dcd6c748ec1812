/**
 * The sequential specification of the KV store with txn and reads at a revision (CONTRACT
 * §5). A txn touches several keys, so this model is not partitioned: the whole history is one
 * register of the key map (keep histories checked with it small).
 *
 * Revisions are what the server answers: a write that returned carries its `revision`; in
 * the linearization order known revisions must grow (a write linearized later has a greater
 * revision). A write whose outcome is unknown has no known revision: it lies between its
 * neighbours'. A read at revision R therefore sees the value after the last write with a
 * known revision ≤ R, or after any unknown-revision write between it and the first known
 * revision > R. Compares on `value` and `version` are modeled; compares on createRevision,
 * modRevision and lease are not (validate refuses them).
 */

import type { ClientId, Operation } from "./history.js";
import type { Model, StepResult } from "./linearizability.js";

export type TxnSingleOp =
  | { readonly op: "put"; readonly key: string; readonly value: string }
  | { readonly op: "get"; readonly key: string }
  | { readonly op: "delete"; readonly key: string };

export interface TxnCompareInput {
  readonly key: string;
  readonly target: "value" | "version";
  readonly op: "==" | "!=" | "<" | ">";
  readonly value: string | number;
}

export type RevKvInput =
  | TxnSingleOp
  /** A get at a past revision. */
  | { readonly op: "get"; readonly key: string; readonly revision: number }
  | {
      readonly op: "txn";
      readonly compare: readonly TxnCompareInput[];
      readonly success: readonly TxnSingleOp[];
      readonly failure: readonly TxnSingleOp[];
    };

/** Writes carry their revision when known; gets their value; txn its branch and results. */
export interface RevKvOutput {
  readonly revision?: number;
  readonly value?: string | null;
  readonly succeeded?: boolean;
  /** A txn's op results: `value` is checked for its gets. */
  readonly results?: readonly { readonly value?: string | null }[];
}

export type RevKvOperation = Operation<RevKvInput, RevKvOutput>;
export type { ClientId };

interface Write {
  readonly revision: number | null;
  readonly key: string;
  readonly value: string | null;
}

/** The key map now, each key's version, and every write in linearization order. */
export interface RevKvState {
  readonly values: Readonly<Record<string, string>>;
  readonly versions: Readonly<Record<string, number>>;
  readonly writes: readonly Write[];
  /** The greatest known revision linearized so far. */
  readonly revision: number;
}

function isWrite(op: TxnSingleOp): boolean {
  return op.op !== "get";
}

/** The values a read at `at` may see (the write log is in linearization order). */
function valuesAt(state: RevKvState, key: string, at: number): Set<string | null> {
  let value: string | null = null;
  const seen = new Set<string | null>();
  let firstAfter = state.writes.length;
  for (const [k, write] of state.writes.entries()) {
    if (write.revision !== null && write.revision > at) {
      firstAfter = k;
      break;
    }
  }
  let boundary = 0;
  for (let k = 0; k < firstAfter; k++) if (state.writes[k]!.revision !== null) boundary = k + 1;
  for (let k = 0; k < firstAfter; k++) {
    const write = state.writes[k]!;
    if (write.key === key) value = write.value;
    if (k + 1 >= boundary) seen.add(value);
  }
  if (boundary === 0) seen.add(null);
  return seen;
}

function compareHolds(compare: TxnCompareInput, state: RevKvState): boolean {
  const current: string | number | undefined =
    compare.target === "value" ? state.values[compare.key] : (state.versions[compare.key] ?? 0);
  if (current === undefined) return false; // a value compare on an absent key fails (etcd)
  const order = current < compare.value ? -1 : current > compare.value ? 1 : 0;
  switch (compare.op) {
    case "==":
      return order === 0;
    case "!=":
      return order !== 0;
    case "<":
      return order < 0;
    case ">":
      return order > 0;
  }
}

/** Apply single ops at `revision`; the gets' values in order. */
function run(
  state: RevKvState,
  ops: readonly TxnSingleOp[],
  revision: number | null,
): { state: RevKvState; reads: (string | null)[] } {
  const values = { ...state.values };
  const versions = { ...state.versions };
  const writes = [...state.writes];
  const reads: (string | null)[] = [];
  for (const op of ops) {
    if (op.op === "get") {
      reads.push(values[op.key] ?? null);
      continue;
    }
    if (op.op === "delete" && values[op.key] === undefined) continue; // no change, no write
    if (op.op === "put") {
      values[op.key] = op.value;
      versions[op.key] = (versions[op.key] ?? 0) + 1;
    } else {
      delete values[op.key];
      delete versions[op.key];
    }
    writes.push({ revision, key: op.key, value: op.op === "put" ? op.value : null });
  }
  const next = Math.max(state.revision, revision ?? 0);
  return { state: { values, versions, writes, revision: next }, reads };
}

function step(
  state: RevKvState,
  input: RevKvInput,
  output: RevKvOutput | undefined,
): StepResult<RevKvState> {
  const revision = output?.revision ?? null;
  const writes =
    input.op === "txn" ? [...input.success, ...input.failure].some(isWrite) : isWrite(input);
  // Known revisions follow the linearization order.
  if (writes && revision !== null && revision <= state.revision) return { ok: false };
  if (input.op === "get" && "revision" in input) {
    if (output === undefined) return { ok: true, state };
    return valuesAt(state, input.key, input.revision).has(output.value ?? null)
      ? { ok: true, state }
      : { ok: false };
  }
  if (input.op === "txn") {
    const succeeded = input.compare.every((c) => compareHolds(c, state));
    if (output !== undefined && output.succeeded !== succeeded) return { ok: false };
    const after = run(state, succeeded ? input.success : input.failure, revision);
    const observed = output?.results?.filter(
      (_, k) => (succeeded ? input.success : input.failure)[k]?.op === "get",
    );
    if (observed?.some((r, k) => (r.value ?? null) !== after.reads[k])) return { ok: false };
    return { ok: true, state: after.state };
  }
  const after = run(state, [input], revision);
  if (input.op === "get" && output !== undefined && (output.value ?? null) !== after.reads[0])
    return { ok: false };
  return { ok: true, state: after.state };
}

function describe(input: RevKvInput, output: RevKvOutput | undefined): string {
  const shown = output === undefined ? "?" : JSON.stringify(output);
  return `${JSON.stringify(input)} → ${shown}`;
}

function validate(input: RevKvInput, output: RevKvOutput | undefined): string | null {
  if (typeof input !== "object" || input === null) return "the input is not an object";
  if (input.op === "txn") {
    for (const compare of input.compare)
      if (compare.target !== "value" && compare.target !== "version")
        return `compares on ${String(compare.target)} are not modeled`;
    return null;
  }
  if (!["put", "get", "delete"].includes(input.op)) return `unknown op ${String(input.op)}`;
  if (output?.revision !== undefined && !Number.isSafeInteger(output.revision))
    return "revision must be an integer";
  return null;
}

export const revKvModel: Model<RevKvState, RevKvInput, RevKvOutput> = {
  init: () => ({ values: {}, versions: {}, writes: [], revision: 0 }),
  step,
  stateKey: (state) => JSON.stringify(state),
  readOnly: (input) =>
    input.op === "get" ||
    (input.op === "txn" && ![...input.success, ...input.failure].some(isWrite)),
  validate: (input, output) => validate(input, output),
  describeOperation: describe,
  describeState: (state) => JSON.stringify(state.values),
};
