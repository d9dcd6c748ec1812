/**
 * Time as the stages see it: injected, so that tests drive it by hand. The one place the
 * lease code reads the wall clock; issue #11 gives every stage one Clock and may absorb this.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
