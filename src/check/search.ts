/** Wing & Gong's search over one partition, with Lowe's cache (see linearizability.ts). */

import { Bitset, buildEvents, type Entry, type Item, lift, unlift } from "./events.js";
import type { CheckOptions, Model } from "./model.js";

/** How often (in steps) the clock is read: at the first step, then every CLOCK_EVERY. */
const CLOCK_EVERY = 256;

export interface DeadEnd<S> {
  /** Linearized operations (partition ids), in order. */
  readonly order: number[];
  readonly state: S;
  /** The operation whose return event stopped the search. */
  readonly blocked: number;
}

export type PartitionOutcome<S> =
  | { readonly kind: "ok"; readonly steps: number }
  | { readonly kind: "fail"; readonly steps: number; readonly deadEnd: DeadEnd<S> }
  | { readonly kind: "budget"; readonly steps: number; readonly reason: string };

/** A choice on the stack: the operation that led out of a configuration, and its state. */
interface Frame<S> {
  readonly call: Entry;
  readonly state: S;
  readonly forced: boolean;
  /** Which of the operation's possible next states was taken (Model.branches). */
  readonly branch: number;
  /** Whether it had further possible next states, still to try. */
  readonly more: boolean;
}

/** Search one partition: the state of the walk lives in the fields (see linearizability.ts). */
class PartitionSearch<S, I, O> {
  private readonly head: Entry;
  private readonly linearized: Bitset;
  private readonly cache = new Map<string, Uint32Array[]>();
  private readonly observer: boolean[];
  /** The earlier never-returned operation with an equal input, or -1 (see constructor). */
  private readonly twin: Int32Array;
  private readonly stack: Frame<S>[] = [];
  private remaining: number;
  private pendingLeft: number;
  private state: S;
  /** A configuration just reached: look for a forced choice before scanning. */
  private fresh = true;
  /** The scan position in the current configuration. */
  private entry: Entry | null = null;
  /** The first of the scanned operation's possible next states to try. */
  private nextBranch = 0;
  /** The scan's second pass, over never-returned operations (tried after the others). */
  private pendingPass = false;
  private steps = 0;
  private deadEnd: DeadEnd<S> | null = null;

  constructor(
    private readonly model: Model<S, I, O>,
    private readonly items: readonly Item<I, O>[],
    private readonly options: Required<CheckOptions>,
  ) {
    const { head, calls } = buildEvents(items);
    this.head = head;
    this.linearized = new Bitset(items);
    this.observer = items.map(
      (item) =>
        item.returned && (model.observesOnly?.(item.op.input, item.op.output as O) ?? false),
    );
    // Never-returned operations with equal inputs are interchangeable once both are called:
    // of those not linearized yet, only the first (in call order) is worth trying.
    this.twin = new Int32Array(items.length).fill(-1);
    const lastWithInput = new Map<string, number>();
    for (const call of calls.slice().sort((a, b) => a.position - b.position)) {
      if (call.match !== null) continue;
      const input = JSON.stringify(items[call.id]!.op.input);
      this.twin[call.id] = lastWithInput.get(input) ?? -1;
      lastWithInput.set(input, call.id);
    }
    this.remaining = items.filter((item) => item.returned).length;
    this.pendingLeft = items.length - this.remaining;
    this.state = model.init();
  }

  run(): PartitionOutcome<S> {
    const started = this.options.now();
    while (this.remaining > 0) {
      const over = this.overBudget(started);
      if (over !== null) return over;
      if (this.fresh) {
        this.fresh = false;
        const forced = this.forcedChoice();
        if (forced === null) {
          this.scanFrom(this.head.next, false);
        } else if (this.advance(forced.call, forced.state, true, 0, false)) {
          this.fresh = true;
        } else if (!this.backtrack()) {
          return this.fail();
        }
        continue;
      }
      if (!this.scanStep()) return this.fail();
    }
    return { kind: "ok", steps: this.steps };
  }

  private scanFrom(entry: Entry | null, pendingPass: boolean): void {
    this.entry = entry;
    this.nextBranch = 0;
    this.pendingPass = pendingPass;
  }

  /** One event of the scan; false: the search is exhausted. */
  private scanStep(): boolean {
    const entry = this.entry;
    // Operations that returned are left, so a return event still is.
    if (entry === null) throw new Error("linearizability: the scan fell off the event list");
    if (entry.isCall) {
      const from = this.nextBranch;
      this.scanFrom(entry.next, this.pendingPass);
      const twin = this.twin[entry.id]!;
      const twinLeft = this.pendingPass && twin >= 0 && !this.linearized.has(twin);
      if ((entry.match === null) === this.pendingPass && !twinLeft) this.tryCall(entry, from);
      return true;
    }
    if (!this.pendingPass && this.pendingLeft > 0) {
      // The operations that returned are all tried here: now those that never did.
      this.scanFrom(this.head.next, true);
      return true;
    }
    // A return event: its operation had to be linearized by now and could not be.
    if (this.deadEnd === null || this.stack.length > this.deadEnd.order.length) {
      const order = this.stack.map((frame) => frame.call.id);
      this.deadEnd = { order, state: this.state, blocked: entry.id };
    }
    return this.backtrack();
  }

  /** Linearize `call` next in the first of its possible next states from `from` that may. */
  private tryCall(call: Entry, from: number): void {
    const next = this.nextStates(call.id);
    for (let branch = from; branch < next.length; branch++) {
      // A never-returned operation that changes nothing here is not worth placing here:
      // whatever could follow it can follow without it.
      const useless =
        this.pendingPass && this.model.stateKey(next[branch]!) === this.model.stateKey(this.state);
      if (!useless && this.advance(call, next[branch]!, false, branch, branch + 1 < next.length)) {
        this.fresh = true;
        return;
      }
    }
  }

  /** Every state the operation may leave here (none: impossible here). */
  private nextStates(id: number): readonly S[] {
    const item = this.items[id]!;
    const output = item.returned ? item.op.output : undefined;
    if (this.model.branches) return this.model.branches(this.state, item.op.input, output);
    const next = this.model.step(this.state, item.op.input, output);
    return next.ok ? [next.state] : [];
  }

  /**
   * Linearize `call` next unless that configuration was reached before, or one with the same
   * state that differs only by lacking some never-returned operations: whatever could follow
   * this one could follow that one (leaving those out), and that one has been, or is being,
   * explored.
   */
  private advance(call: Entry, next: S, forced: boolean, branch: number, more: boolean): boolean {
    const { linearized } = this;
    linearized.set(call.id);
    const key = `${linearized.hash}|${this.model.stateKey(next)}`;
    let bucket = this.cache.get(key);
    if (bucket === undefined) {
      bucket = [];
      this.cache.set(key, bucket);
    } else if (bucket.some((seen) => linearized.covers(seen))) {
      linearized.clear(call.id);
      return false;
    }
    bucket.push(linearized.words.slice());
    this.stack.push({ call, state: this.state, forced, branch, more });
    this.state = next;
    if (call.match !== null) this.remaining--;
    else this.pendingLeft--;
    lift(call);
    return true;
  }

  /** Undo the last choice and resume its configuration's scan after it; false: none left. */
  private backtrack(): boolean {
    for (;;) {
      const frame = this.stack.pop();
      if (frame === undefined) return false;
      this.state = frame.state;
      this.linearized.clear(frame.call.id);
      if (frame.call.match !== null) this.remaining++;
      else this.pendingLeft++;
      unlift(frame.call);
      // A forced choice was the only one worth trying: its configuration fails as well.
      if (frame.forced) continue;
      const pendingPass = frame.call.match === null;
      if (frame.more) {
        this.scanFrom(frame.call, pendingPass);
        this.nextBranch = frame.branch + 1;
      } else {
        this.scanFrom(frame.call.next, pendingPass);
      }
      return true;
    }
  }

  /** A candidate that only observes and is possible now: it can go first (see observesOnly). */
  private forcedChoice(): { call: Entry; state: S } | null {
    for (let at = this.head.next; at?.isCall; at = at.next) {
      if (!this.observer[at.id]) continue;
      const item = this.items[at.id]!;
      const next = this.model.step(this.state, item.op.input, item.op.output);
      if (next.ok) return { call: at, state: next.state };
    }
    return null;
  }

  /** The step budget is checked every step, the clock every CLOCK_EVERY steps. */
  private overBudget(started: number): PartitionOutcome<S> | null {
    const { options } = this;
    const steps = ++this.steps;
    if (steps % CLOCK_EVERY !== 1 && steps <= options.maxStepsPerKey) return null;
    const elapsed = options.now() - started;
    if (steps <= options.maxStepsPerKey && elapsed <= options.timeBudgetMsPerKey) return null;
    const limit =
      steps > options.maxStepsPerKey
        ? `${options.maxStepsPerKey} steps`
        : `${options.timeBudgetMsPerKey} ms`;
    return {
      kind: "budget",
      steps,
      reason:
        `the search budget (${limit}) ran out after ${steps} steps in ${Math.round(elapsed)} ms` +
        ` with ${this.items.length} operations; the deepest dead end had ` +
        `${this.deadEnd?.order.length ?? 0} of them linearized`,
    };
  }

  private fail(): PartitionOutcome<S> {
    const deadEnd = this.deadEnd ?? { order: [], state: this.model.init(), blocked: 0 };
    return { kind: "fail", steps: this.steps, deadEnd };
  }
}

export function searchPartition<S, I, O>(
  model: Model<S, I, O>,
  items: readonly Item<I, O>[],
  options: Required<CheckOptions>,
): PartitionOutcome<S> {
  return new PartitionSearch(model, items, options).run();
}
