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
 *
 * Files: model.ts (the Model a history is checked against, the result types), events.ts (the
 * event list and the linearized set), search.ts (the search of one partition), explain.ts
 * (the account of a failure), this file (validation, partitioning, the result).
 */

import type { Item } from "./events.js";
import { explain } from "./explain.js";
import { isPending, type KvInput, type KvOutput, type Operation } from "./history.js";
import { kvModel } from "./kv-model.js";
import type { CheckOptions, CheckResult, CheckStats, Model } from "./model.js";
import { searchPartition } from "./search.js";

export type { CheckOptions, CheckResult, CheckStats, Model, StepResult } from "./model.js";

const DEFAULT_MAX_STEPS = 5_000_000;
const DEFAULT_TIME_BUDGET_MS = 5_000;

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
