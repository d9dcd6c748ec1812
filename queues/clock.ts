/** A timer a Clock started; cancel() is idempotent. */
export interface Timer {
  cancel(): void;
}

/**
 * The time the stages run on: the process's clock in a node, remu's virtual one under
 * simulation. Small on purpose (now, one-shot and repeating timers).
 */
export interface Clock {
  /** Wall-clock ms (deadlines, session times, what is stored in log entries). */
  now(): number;
  /** Monotonic ms, for measuring how long work took (the stages' metrics and controllers). */
  elapsed(): number;
  /** Run `fn` once after `ms`; a pending one-shot timer does not keep the process alive. */
  after(ms: number, fn: () => void): Timer;
  /** Run `fn` every `ms` until cancelled. */
  every(ms: number, fn: () => void): Timer;
}

/** The process's clock: Date.now, performance.now and Node's timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  elapsed: () => performance.now(),
  after(ms, fn) {
    const handle = setTimeout(fn, ms);
    handle.unref();
    return { cancel: () => clearTimeout(handle) };
  },
  every(ms, fn) {
    const handle = setInterval(fn, ms);
    return { cancel: () => clearInterval(handle) };
  },
};

/** Wait `ms` on `clock`. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.after(ms, resolve));
}
