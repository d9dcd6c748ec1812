import fc from "fast-check";
import type { ClientId, KvInput, KvOperation, KvOutput } from "../../src/check/history.js";

// ---- writing histories by hand ----

export const put = (key: string, value: string): KvInput => ({ op: "put", key, value });
export const get = (key: string): KvInput => ({ op: "get", key });
export const del = (key: string): KvInput => ({ op: "delete", key });
export const cas = (key: string, expect: string | null, value: string): KvInput => ({
  op: "cas",
  key,
  expect,
  value,
});
export const incr = (key: string, delta: number): KvInput => ({ op: "incr", key, delta });

/** One operation: `ret` null means it never returned (then `output` is ignored). */
export function op(
  clientId: ClientId,
  call: number,
  ret: number | null,
  input: KvInput,
  output?: KvOutput,
): KvOperation {
  return { clientId, call, return: ret, input, output };
}

// ---- an independent reference KV (a Map), used to generate and brute-force histories ----

const INTEGER = /^-?\d+$/;

/** The output of `input` on `store`, mutating it; null when the server would reject it. */
export function referenceApply(store: Map<string, string>, input: KvInput): KvOutput | null {
  const current = store.get(input.key) ?? null;
  switch (input.op) {
    case "put":
      store.set(input.key, input.value);
      return {};
    case "get":
      return { value: current };
    case "delete":
      store.delete(input.key);
      return { deleted: current !== null };
    case "cas":
      if (current !== input.expect) return { succeeded: false, value: current };
      store.set(input.key, input.value);
      return { succeeded: true, value: input.value };
    case "incr": {
      const base = current ?? "0";
      if (!INTEGER.test(base)) return null;
      const value = String(Number(base) + input.delta);
      store.set(input.key, value);
      return { value };
    }
  }
}

type Fields = { value?: unknown; succeeded?: unknown; deleted?: unknown } | undefined;

function sameOutput(input: KvInput, expected: KvOutput, observed: KvOutput): boolean {
  const want = expected as Fields;
  const seen = observed as Fields;
  switch (input.op) {
    case "put":
      return true;
    case "get":
      return seen?.value === want?.value;
    case "delete":
      return seen?.deleted === want?.deleted;
    case "cas":
      return seen?.succeeded === want?.succeeded && seen?.value === want?.value;
    case "incr":
      return String(seen?.value) === want?.value;
  }
}

/**
 * Brute force: try every order (and every subset of the never-returned operations) that
 * respects real time, all keys together. Outputs must be given in full (as referenceApply
 * gives them). Exponential: for a handful of operations only.
 */
export function bruteForceLinearizable(history: readonly KvOperation[]): boolean {
  const n = history.length;
  const placed = new Array<boolean>(n).fill(false);
  const returned = history.map((o) => o.return !== null && o.return !== Number.POSITIVE_INFINITY);
  const search = (store: Map<string, string>, left: number): boolean => {
    if (left === 0) return true;
    let earliestReturn = Number.POSITIVE_INFINITY;
    for (let k = 0; k < n; k++) {
      if (!placed[k] && returned[k]) earliestReturn = Math.min(earliestReturn, history[k]!.return!);
    }
    for (let k = 0; k < n; k++) {
      const o = history[k]!;
      if (placed[k] || o.call > earliestReturn) continue;
      const next = new Map(store);
      const output = referenceApply(next, o.input);
      // A rejected incr changes nothing: impossible if it returned, a no-op if it never did.
      if (returned[k] && (output === null || !sameOutput(o.input, output, o.output))) continue;
      placed[k] = true;
      const ok = search(next, left - (returned[k] ? 1 : 0));
      placed[k] = false;
      if (ok) return true;
    }
    return false;
  };
  return search(new Map(), returned.filter(Boolean).length);
}

// ---- random executions with overlapping intervals ----

/** One step of a sequential execution: who does what, and how its interval is drawn. */
export interface PlanStep {
  readonly client: number;
  readonly kind: number;
  readonly key: number;
  readonly value: number;
  readonly expect: number;
  readonly delta: number;
  /** Never returns (TIMEOUT): its effect happens `delay` steps later, or never (null). */
  readonly pending: boolean;
  readonly delay: number | null;
  /** Where in the allowed room the call and return are put (0..1). */
  readonly callFraction: number;
  readonly returnFraction: number;
}

export const VALUES = ["a", "b", "c", "1", "2", "10"] as const;

export interface PlanShape {
  readonly clients: number;
  readonly keys: number;
  readonly minOps: number;
  readonly maxOps: number;
  /** Out of 100. */
  readonly pendingPercent: number;
}

export function planArbitrary(shape: PlanShape): fc.Arbitrary<PlanStep[]> {
  const step = fc.record({
    client: fc.nat(shape.clients - 1),
    kind: fc.nat(99),
    key: fc.nat(shape.keys - 1),
    value: fc.nat(VALUES.length - 1),
    expect: fc.nat(VALUES.length),
    delta: fc.integer({ min: -3, max: 5 }),
    pending: fc.nat(99).map((x) => x < shape.pendingPercent),
    delay: fc.option(fc.nat(12), { nil: null }),
    callFraction: fc.double({ min: 0, max: 1, noNaN: true }),
    returnFraction: fc.double({ min: 0, max: 1, noNaN: true }),
  });
  return fc.array(step, { minLength: shape.minOps, maxLength: shape.maxOps });
}

/**
 * The operation of a step. Values come from a small pool (many equal states: a hard case for
 * the search) or, with `unique`, are fresh at every write (as real tests write them), a cas
 * then mostly expecting the current value.
 */
function inputOf(step: PlanStep, t: number, unique: boolean, store: Map<string, string>): KvInput {
  const key = `k${step.key}`;
  const value = unique ? String(1000 * (t + 1)) : VALUES[step.value]!;
  // Mostly reads and puts; some cas, incr and delete.
  if (step.kind < 35) return get(key);
  if (step.kind < 60) return put(key, value);
  if (step.kind < 75) {
    if (step.expect === VALUES.length) return cas(key, null, value);
    if (!unique) return cas(key, VALUES[step.expect]!, value);
    return cas(key, step.expect < 4 ? (store.get(key) ?? null) : String(step.expect), value);
  }
  if (step.kind < 92) return incr(key, step.delta);
  return del(key);
}

/**
 * Run a plan against the reference KV in order, step t taking effect at time 10t+5, and give
 * each operation an interval containing that point (a client's operations never overlap).
 * Never-returned operations take effect `delay` steps later (time 10(t+delay)+2) or never.
 * Operations the server would reject (incr of a non-integer) are left out, as they would be.
 */
export function executePlan(plan: readonly PlanStep[], unique = false): KvOperation[] {
  const store = new Map<string, string>();
  const free = new Map<number, number>();
  const later = new Map<number, KvInput[]>();
  const nextOfClient = new Array<number | null>(plan.length).fill(null);
  const lastSeen = new Map<number, number>();
  for (let t = plan.length - 1; t >= 0; t--) {
    nextOfClient[t] = lastSeen.get(plan[t]!.client) ?? null;
    lastSeen.set(plan[t]!.client, t);
  }
  const history: KvOperation[] = [];
  for (let t = 0; t < plan.length; t++) {
    for (const input of later.get(t) ?? []) referenceApply(store, input);
    later.delete(t);
    const step = plan[t]!;
    const input = inputOf(step, t, unique, store);
    const point = 10 * t + 5;
    const low = free.get(step.client) ?? 0;
    const call = low + Math.floor(step.callFraction * (point - low));
    const next = nextOfClient[t] ?? null;
    const high = next === null ? point + 40 : 10 * next + 4;
    if (step.pending) {
      if (step.delay === 0) referenceApply(store, input);
      else if (step.delay !== null) {
        const at = t + step.delay;
        later.set(at, [...(later.get(at) ?? []), input]);
      }
      history.push(op(step.client, call, Number.POSITIVE_INFINITY, input));
      free.set(step.client, point + 1);
      continue;
    }
    const output = referenceApply(store, input);
    if (output === null) continue; // BAD_REQUEST: nothing done, not recorded
    const ret = point + Math.floor(step.returnFraction * (high - point));
    history.push(op(step.client, call, ret, input, output));
    free.set(step.client, ret + 1);
  }
  return history;
}

/** A value no operation ever writes (and not an integer). */
export const NEVER_WRITTEN = "never-written";

/** Replace the value seen by the `choice`-th returned get or cas; null if there is none. */
export function corruptOneRead(
  history: readonly KvOperation[],
  choice: number,
): KvOperation[] | null {
  const reads = history
    .map((o, index) => ({ o, index }))
    .filter(
      ({ o }) =>
        o.return !== Number.POSITIVE_INFINITY && (o.input.op === "get" || o.input.op === "cas"),
    );
  if (reads.length === 0) return null;
  const { o, index } = reads[choice % reads.length]!;
  const output: KvOutput =
    o.input.op === "get"
      ? { value: NEVER_WRITTEN }
      : { succeeded: (o.output as { succeeded: boolean }).succeeded, value: NEVER_WRITTEN };
  const copy = history.slice();
  copy[index] = { ...o, output };
  return copy;
}
