/** The types shared by the checker's search and the models it checks against. */

import type { Operation } from "./history.js";

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
  /**
   * Every state `input` may leave (none: that output is impossible here), for a model where
   * what the history tells does not fix one (the search tries each). Without it: `step`.
   * Operations that only observe (observesOnly) must still have one, given by `step`.
   */
  branches?(state: S, input: I, output: O | undefined): readonly S[];
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
