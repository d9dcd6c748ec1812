/**
 * A linearizability checker: is there a total order of a history's operations that respects
 * real time (an operation that returned before another was called comes first) and that a
 * sequential model accepts, outputs included?
 *
 * The search is Wing & Gong's, with Lowe's memoisation (as in Porcupine):
 *
 * - The history becomes a doubly linked list of call and return events in time order.
 * - Walking the list from its head, every call event met before the first return event is an
 *   operation that may take effect next. Take one ("linearize" it) if the model accepts it in
 *   the current state: remember (operation, previous state) on a stack, unlink its call and
 *   return events, and restart from the head.
 * - Meeting a return event means that operation had to take effect already and could not:
 *   backtrack — pop the stack, relink the operation's events, restore the state, and try the
 *   next candidate after it.
 * - Lowe's improvement: a cache of configurations already reached, each the set of linearized
 *   operations (a bitset) with the model state. Reaching one again cannot lead anywhere new,
 *   so that branch is cut. Without it the search is exponential in the concurrency far more
 *   often.
 *
 * Operations that never returned (TIMEOUT, lost connection: `return` null or Infinity) have
 * no return event: they may be linearized anywhere after their call, and the search succeeds
 * as soon as every operation that did return is linearized — those left over never took
 * effect. Such operations that only read are dropped (they constrain nothing).
 *
 * Reductions beyond that, each cutting a branch only when a branch that is tried covers it:
 *
 * - An operation that only observes (a get, a failed cas: see Model.observesOnly), once it is
 *   possible in the current state, is linearized at once, and no alternative is tried there:
 *   moving it earlier changes no other operation's outcome.
 * - Never-returned operations are tried after those that returned; not where they would leave
 *   the state as it is; and of several with equal inputs, only the first.
 * - The cache also counts a configuration as reached when one with the same state and the
 *   same returned operations, but only some of its never-returned ones, was reached: whatever
 *   can follow the bigger one can follow the smaller, leaving those operations out.
 *
 * Checking linearizability is NP-complete: the search is exponential in the worst case
 * (many overlapping operations on one key, many never-returned ones), hence the budget.
 *
 * The history is split first by the model's partition key (P-compositionality: a history is
 * linearizable iff each key's sub-history is), and each key is checked alone, under a budget
 * of steps and time; past it the answer is "unknown", never "ok".
 *
 * Equal times: a call at the same time as another operation's return counts as concurrent
 * with it (call events sort before return events), which can only accept more histories.
 */

import {
  type ClientId,
  isPending,
  type KvInput,
  type KvOutput,
  type Operation,
} from "./history.js";
import { kvModel } from "./kv-model.js";

export type StepResult<S> = { readonly ok: true; readonly state: S } | { readonly ok: false };

/**
 * A sequential specification. States must be treated as immutable values. Inputs that
 * serialise to the same JSON must mean the same operation (never-returned operations with
 * such inputs are treated as interchangeable).
 */
export interface Model<S, I, O> {
  init(): S;
  /**
   * Apply `input` to `state`. `output` is what the operation returned, or undefined when the
   * outcome is unknown (then any output is acceptable). Not ok: that output is impossible.
   */
  step(state: S, input: I, output: O | undefined): StepResult<S>;
  /** Equal keys ⇔ equal states (the cache and state comparison use it). */
  stateKey(state: S): string;
  /** Operations with different keys are independent: each key is checked alone. */
  partitionKey?(input: I): string;
  /** Never changes the state: such operations with an unknown outcome are dropped. */
  readOnly?(input: I): boolean;
  /**
   * With this output, the operation leaves the state as it was in every state where it is
   * possible (a read; a cas that failed). Such an operation is linearized as soon as it is
   * possible, without trying other orders: moving it earlier (it was already called, and all
   * operations that returned before its call are already linearized) changes nothing else.
   */
  observesOnly?(input: I, output: O): boolean;
  /** Why an operation is malformed, or null; `returned` false when its outcome is unknown. */
  validate?(input: I, output: O | undefined, returned: boolean): string | null;
  describeOperation?(input: I, output: O | undefined): string;
  describeState?(state: S): string;
}

export interface CheckOptions {
  /** Search steps (candidate tries and backtracks) allowed per key; 5,000,000 by default. */
  readonly maxStepsPerKey?: number;
  /** Milliseconds allowed per key; 5,000 by default. */
  readonly timeBudgetMsPerKey?: number;
  /** The clock for the time budget; performance.now by default. */
  readonly now?: () => number;
}

export interface CheckStats {
  /** Partitions (keys) checked, out of those in the history. */
  readonly keysChecked: number;
  readonly keys: number;
  /** Operations in the history, after dropping pending reads. */
  readonly operations: number;
  readonly steps: number;
  readonly elapsedMs: number;
}

export type CheckResult<I, O> =
  | { readonly ok: true; readonly stats: CheckStats }
  | {
      readonly ok: false;
      readonly key: string;
      /** Readable: the longest linearizable prefix found and the operation it could not place. */
      readonly explanation: string;
      /** That prefix, in linearization order. */
      readonly prefix: readonly Operation<I, O>[];
      /** The operation that had to take effect next and could not. */
      readonly unplaced: Operation<I, O>;
      readonly stats: CheckStats;
    }
  | {
      readonly ok: "unknown";
      readonly key: string;
      readonly reason: string;
      readonly stats: CheckStats;
    };

const DEFAULT_MAX_STEPS = 5_000_000;
const DEFAULT_TIME_BUDGET_MS = 5_000;
/** How often (in steps) the clock is read: at the first step, then every CLOCK_EVERY. */
const CLOCK_EVERY = 256;
/** How many operations of a prefix the explanation lists. */
const EXPLAIN_PREFIX = 20;
const EXPLAIN_CANDIDATES = 20;

/** An operation of one partition, with its place in the whole history. */
interface Item<I, O> {
  readonly index: number;
  readonly op: Operation<I, O>;
  readonly returned: boolean;
}

interface Entry {
  readonly isCall: boolean;
  /** The operation: its index in the partition. */
  readonly id: number;
  readonly time: number;
  /** Position in time order (ties: calls first). */
  position: number;
  prev: Entry | null;
  next: Entry | null;
  /** A call's return event; null for returns and for operations that never returned. */
  match: Entry | null;
}

interface DeadEnd<S> {
  /** Linearized operations (partition ids), in order. */
  readonly order: number[];
  readonly state: S;
  /** The operation whose return event stopped the search. */
  readonly blocked: number;
}

type PartitionOutcome<S> =
  | { readonly kind: "ok"; readonly steps: number }
  | { readonly kind: "fail"; readonly steps: number; readonly deadEnd: DeadEnd<S> }
  | { readonly kind: "budget"; readonly steps: number; readonly reason: string };

/**
 * The set of linearized operations, with an incrementally kept (Zobrist) hash of the part
 * made of operations that returned: configurations differing only in never-returned
 * operations share a hash bucket, where the cache compares them by inclusion.
 */
class Bitset {
  readonly words: Uint32Array;
  /** Bits of the operations that never returned. */
  readonly pendingMask: Uint32Array;
  private readonly salts: Uint32Array;
  hash = 0;

  constructor(items: readonly { readonly returned: boolean }[]) {
    const size = Math.ceil(items.length / 32);
    this.words = new Uint32Array(size);
    this.pendingMask = new Uint32Array(size);
    this.salts = new Uint32Array(items.length);
    let x = 0x9e3779b9;
    items.forEach((item, id) => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      if (item.returned) this.salts[id] = x >>> 0;
      else this.pendingMask[id >>> 5]! |= 1 << (id & 31);
    });
  }

  has(id: number): boolean {
    return (this.words[id >>> 5]! & (1 << (id & 31))) !== 0;
  }

  set(id: number): void {
    this.words[id >>> 5]! |= 1 << (id & 31);
    this.hash = (this.hash ^ this.salts[id]!) >>> 0;
  }

  clear(id: number): void {
    this.words[id >>> 5]! &= ~(1 << (id & 31));
    this.hash = (this.hash ^ this.salts[id]!) >>> 0;
  }

  /** `words` is this set less some never-returned operations (or this set itself). */
  covers(words: Uint32Array): boolean {
    for (let k = 0; k < words.length; k++) {
      const mine = this.words[k]!;
      const theirs = words[k]!;
      if ((theirs & ~mine) !== 0 || ((theirs ^ mine) & ~this.pendingMask[k]!) !== 0) return false;
    }
    return true;
  }
}

/** The events of a partition as a linked list behind a head sentinel. */
function buildEvents<I, O>(items: readonly Item<I, O>[]): { head: Entry; calls: Entry[] } {
  const events: Entry[] = [];
  const calls: Entry[] = [];
  items.forEach((item, id) => {
    const call: Entry = {
      isCall: true,
      id,
      time: item.op.call,
      position: 0,
      prev: null,
      next: null,
      match: null,
    };
    calls.push(call);
    events.push(call);
    if (item.returned) {
      const ret: Entry = {
        isCall: false,
        id,
        time: item.op.return as number,
        position: 0,
        prev: null,
        next: null,
        match: null,
      };
      call.match = ret;
      events.push(ret);
    }
  });
  events.sort((a, b) => {
    if (a.time !== b.time) return a.time - b.time;
    if (a.isCall !== b.isCall) return a.isCall ? -1 : 1;
    return a.id - b.id;
  });
  const head: Entry = {
    isCall: false,
    id: -1,
    time: Number.NEGATIVE_INFINITY,
    position: -1,
    prev: null,
    next: null,
    match: null,
  };
  let last = head;
  events.forEach((entry, position) => {
    entry.position = position;
    entry.prev = last;
    last.next = entry;
    last = entry;
  });
  return { head, calls };
}

/** Unlink an operation's call event and its return event, if any. */
function lift(call: Entry): void {
  call.prev!.next = call.next;
  if (call.next !== null) call.next.prev = call.prev;
  const ret = call.match;
  if (ret !== null) {
    ret.prev!.next = ret.next;
    if (ret.next !== null) ret.next.prev = ret.prev;
  }
}

/** Undo `lift` (in the reverse order of the lifts: their neighbours are as they left them). */
function unlift(call: Entry): void {
  const ret = call.match;
  if (ret !== null) {
    ret.prev!.next = ret;
    if (ret.next !== null) ret.next.prev = ret;
  }
  call.prev!.next = call;
  if (call.next !== null) call.next.prev = call;
}

function searchPartition<S, I, O>(
  model: Model<S, I, O>,
  items: readonly Item<I, O>[],
  options: Required<CheckOptions>,
): PartitionOutcome<S> {
  const { head, calls } = buildEvents(items);
  const linearized = new Bitset(items);
  const cache = new Map<string, Uint32Array[]>();
  const observer = items.map(
    (item) => item.returned && (model.observesOnly?.(item.op.input, item.op.output as O) ?? false),
  );
  // Never-returned operations with equal inputs are interchangeable once both are called:
  // of those not linearized yet, only the first (in call order) is worth trying.
  const twin = new Int32Array(items.length).fill(-1);
  const lastWithInput = new Map<string, number>();
  for (const call of calls.slice().sort((a, b) => a.position - b.position)) {
    if (call.match !== null) continue;
    const input = JSON.stringify(items[call.id]!.op.input);
    twin[call.id] = lastWithInput.get(input) ?? -1;
    lastWithInput.set(input, call.id);
  }
  const outputOf = (id: number): O | undefined => {
    const item = items[id]!;
    return item.returned ? item.op.output : undefined;
  };
  /** Each frame: the operation that led out of a configuration, that configuration's state. */
  const stack: {
    readonly call: Entry;
    readonly state: S;
    readonly forced: boolean;
  }[] = [];
  let remaining = items.filter((item) => item.returned).length;
  let pendingLeft = items.length - remaining;
  let state = model.init();
  /** A configuration just reached: look for a forced choice before scanning. */
  let fresh = true;
  /** The scan position in the current configuration. */
  let entry: Entry | null = null;
  /** The scan's second pass, over never-returned operations (tried after the others). */
  let pendingPass = false;
  let steps = 0;
  let deadEnd: DeadEnd<S> | null = null;
  const started = options.now();

  /**
   * Linearize `call` next unless that configuration was reached before, or one with the same
   * state that differs only by lacking some never-returned operations: whatever could follow
   * this one could follow that one (leaving those out), and that one has been, or is being,
   * explored.
   */
  const advance = (call: Entry, next: S, forced: boolean): boolean => {
    linearized.set(call.id);
    const key = `${linearized.hash}|${model.stateKey(next)}`;
    let bucket = cache.get(key);
    if (bucket === undefined) {
      bucket = [];
      cache.set(key, bucket);
    } else if (bucket.some((seen) => linearized.covers(seen))) {
      linearized.clear(call.id);
      return false;
    }
    bucket.push(linearized.words.slice());
    stack.push({ call, state, forced });
    state = next;
    if (call.match !== null) remaining--;
    else pendingLeft--;
    lift(call);
    return true;
  };

  /** Undo the last choice and resume its configuration's scan after it; false: none left. */
  const backtrack = (): boolean => {
    for (;;) {
      const frame = stack.pop();
      if (frame === undefined) return false;
      state = frame.state;
      linearized.clear(frame.call.id);
      if (frame.call.match !== null) remaining++;
      else pendingLeft++;
      unlift(frame.call);
      // A forced choice was the only one worth trying: its configuration fails as well.
      if (frame.forced) continue;
      entry = frame.call.next;
      pendingPass = frame.call.match === null;
      return true;
    }
  };

  /** A candidate that only observes and is possible now: it can go first (see observesOnly). */
  const forcedChoice = (): { call: Entry; state: S } | null => {
    for (let at = head.next; at?.isCall; at = at.next) {
      if (!observer[at.id]) continue;
      const next = model.step(state, items[at.id]!.op.input, outputOf(at.id));
      if (next.ok) return { call: at, state: next.state };
    }
    return null;
  };

  const fail = (): PartitionOutcome<S> => ({
    kind: "fail",
    steps,
    deadEnd: deadEnd ?? { order: [], state: model.init(), blocked: 0 },
  });

  while (remaining > 0) {
    if (++steps % CLOCK_EVERY === 1 || steps > options.maxStepsPerKey) {
      const elapsed = options.now() - started;
      if (steps > options.maxStepsPerKey || elapsed > options.timeBudgetMsPerKey) {
        const limit =
          steps > options.maxStepsPerKey
            ? `${options.maxStepsPerKey} steps`
            : `${options.timeBudgetMsPerKey} ms`;
        return {
          kind: "budget",
          steps,
          reason:
            `the search budget (${limit}) ran out after ${steps} steps in ${Math.round(elapsed)} ms` +
            ` with ${items.length} operations; the deepest dead end had ${deadEnd?.order.length ?? 0}` +
            ` of them linearized`,
        };
      }
    }
    if (fresh) {
      fresh = false;
      const forced = forcedChoice();
      if (forced === null) {
        entry = head.next;
        pendingPass = false;
      } else if (advance(forced.call, forced.state, true)) {
        fresh = true;
      } else if (!backtrack()) {
        return fail();
      }
      continue;
    }
    // Operations that returned are left, so a return event still is.
    if (entry === null) throw new Error("linearizability: the scan fell off the event list");
    if (entry.isCall) {
      const call = entry;
      entry = call.next;
      const twinLeft = pendingPass && twin[call.id]! >= 0 && !linearized.has(twin[call.id]!);
      if ((call.match === null) === pendingPass && !twinLeft) {
        const next = model.step(state, items[call.id]!.op.input, outputOf(call.id));
        // A never-returned operation that changes nothing here is not worth placing here:
        // whatever could follow it can follow without it.
        const useless =
          pendingPass && next.ok && model.stateKey(next.state) === model.stateKey(state);
        if (next.ok && !useless && advance(call, next.state, false)) fresh = true;
      }
    } else if (!pendingPass && pendingLeft > 0) {
      // The operations that returned are all tried here: now those that never did.
      pendingPass = true;
      entry = head.next;
    } else {
      // A return event: its operation had to be linearized by now and could not be.
      if (deadEnd === null || stack.length > deadEnd.order.length) {
        deadEnd = { order: stack.map((frame) => frame.call.id), state, blocked: entry.id };
      }
      if (!backtrack()) return fail();
    }
  }
  return { kind: "ok", steps };
}

function describeItem<S, I, O>(model: Model<S, I, O>, item: Item<I, O>): string {
  const { op } = item;
  const what = model.describeOperation
    ? model.describeOperation(op.input, item.returned ? op.output : undefined)
    : `${JSON.stringify(op.input)} → ${item.returned ? JSON.stringify(op.output) : "?"}`;
  const when = item.returned
    ? `call ${op.call}, return ${op.return}`
    : `call ${op.call}, never returned`;
  return `#${item.index} client ${clientName(op.clientId)}: ${what}  (${when})`;
}

function clientName(clientId: ClientId): string {
  return typeof clientId === "string" ? JSON.stringify(clientId) : String(clientId);
}

function describeState<S, I, O>(model: Model<S, I, O>, state: S): string {
  return model.describeState ? model.describeState(state) : model.stateKey(state);
}

function explain<S, I, O>(
  model: Model<S, I, O>,
  key: string,
  items: readonly Item<I, O>[],
  deadEnd: DeadEnd<S>,
): string {
  const { calls } = buildEvents(items);
  const lines: string[] = [];
  const returned = items.filter((item) => item.returned).length;
  lines.push(
    `not linearizable: key ${JSON.stringify(key)} (${items.length} operations on it, ` +
      `${items.length - returned} never returned).`,
  );
  const order = deadEnd.order;
  if (order.length === 0) {
    lines.push("No operation can go first: the longest linearizable prefix found is empty.");
  } else {
    lines.push(`Longest linearizable prefix found: ${order.length} operation(s):`);
    const from = Math.max(0, order.length - EXPLAIN_PREFIX);
    if (from > 0) lines.push(`  ... ${from} earlier operation(s)`);
    for (let k = from; k < order.length; k++) {
      lines.push(`  ${k + 1}. ${describeItem(model, items[order[k]!]!)}`);
    }
  }
  lines.push(`State after it: ${describeState(model, deadEnd.state)}.`);
  const blocked = items[deadEnd.blocked]!;
  lines.push(
    `Cannot place ${describeItem(model, blocked)}: it must take effect before its return ` +
      `at ${blocked.op.return}, but neither it nor any other operation that could go next ` +
      "leads to a complete linearization (and no other order gets further).",
  );
  // The candidates at that dead end: not linearized, called before the blocked op returned.
  const inPrefix = new Set(order);
  const returnAt = calls[deadEnd.blocked]!.match!.position;
  const candidates = calls.filter((call) => !inPrefix.has(call.id) && call.position < returnAt);
  lines.push(`Operations that could take effect next there (${candidates.length}):`);
  for (const call of candidates.slice(0, EXPLAIN_CANDIDATES)) {
    const item = items[call.id]!;
    const result = model.step(
      deadEnd.state,
      item.op.input,
      item.returned ? item.op.output : undefined,
    );
    const verdict = result.ok
      ? `possible (→ ${describeState(model, result.state)}), but nothing linearizable follows`
      : "impossible in that state";
    lines.push(`  - ${describeItem(model, item)}: ${verdict}`);
  }
  if (candidates.length > EXPLAIN_CANDIDATES) {
    lines.push(`  ... and ${candidates.length - EXPLAIN_CANDIDATES} more`);
  }
  return lines.join("\n");
}

function validateHistory<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
): void {
  history.forEach((op, index) => {
    const where = `history[${index}]`;
    if (typeof op.call !== "number" || !Number.isFinite(op.call)) {
      throw new RangeError(`${where}: call must be a finite number, not ${op.call}`);
    }
    const ret = op.return;
    if (ret !== null && (typeof ret !== "number" || Number.isNaN(ret) || ret < op.call)) {
      throw new RangeError(`${where}: return ${ret} must be ≥ call ${op.call}, null or Infinity`);
    }
    const error = model.validate?.(op.input, op.output, !isPending(op)) ?? null;
    if (error !== null) throw new TypeError(`${where}: ${error}`);
  });
}

/**
 * Check a history against a model. Throws (RangeError/TypeError) on a malformed history;
 * otherwise ok, not ok with the key and an explanation, or "unknown" when a key's search
 * ran out of budget (and no other key was found not linearizable).
 */
export function checkOperations<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  options: CheckOptions = {},
): CheckResult<I, O> {
  const settings: Required<CheckOptions> = {
    maxStepsPerKey: options.maxStepsPerKey ?? DEFAULT_MAX_STEPS,
    timeBudgetMsPerKey: options.timeBudgetMsPerKey ?? DEFAULT_TIME_BUDGET_MS,
    now: options.now ?? (() => performance.now()),
  };
  validateHistory(model, history);
  const started = settings.now();

  const partitions = new Map<string, Item<I, O>[]>();
  let operations = 0;
  history.forEach((op, index) => {
    const returned = !isPending(op);
    if (!returned && model.readOnly?.(op.input)) return;
    const key = model.partitionKey ? model.partitionKey(op.input) : "";
    let items = partitions.get(key);
    if (items === undefined) {
      items = [];
      partitions.set(key, items);
    }
    items.push({ index, op, returned });
    operations++;
  });

  const keys = [...partitions.keys()].sort();
  let steps = 0;
  let keysChecked = 0;
  let unknown: { key: string; reason: string } | null = null;
  const stats = (): CheckStats => ({
    keysChecked,
    keys: keys.length,
    operations,
    steps,
    elapsedMs: settings.now() - started,
  });

  for (const key of keys) {
    const items = partitions.get(key)!;
    const outcome = searchPartition(model, items, settings);
    steps += outcome.steps;
    keysChecked++;
    if (outcome.kind === "fail") {
      const { deadEnd } = outcome;
      return {
        ok: false,
        key,
        explanation: explain(model, key, items, deadEnd),
        prefix: deadEnd.order.map((id) => items[id]!.op),
        unplaced: items[deadEnd.blocked]!.op,
        stats: stats(),
      };
    }
    if (outcome.kind === "budget" && unknown === null) {
      unknown = { key, reason: `key ${JSON.stringify(key)}: ${outcome.reason}` };
    }
  }
  if (unknown !== null) return { ok: "unknown", ...unknown, stats: stats() };
  return { ok: true, stats: stats() };
}

/** Check a KV history (put/get/delete/cas/incr), key by key. */
export function checkKvHistory(
  history: readonly Operation<KvInput, KvOutput>[],
  options: CheckOptions = {},
): CheckResult<KvInput, KvOutput> {
  return checkOperations(kvModel, history, options);
}
