import type { Clock, Timer } from "../../../queues/mod.js";
import { EventQueue } from "../event-queue.js";

interface Scheduled {
  readonly fn: () => void;
  /** False once the timer was cancelled or its node's life ended: skipped, not run. */
  readonly live: () => boolean;
}

/** Virtual time for the whole cluster: one queue of timed callbacks, ties in insertion order. */
export class SimScheduler {
  now = 0;
  private readonly queue = new EventQueue<Scheduled>();

  get size(): number {
    return this.queue.size;
  }

  at(time: number, fn: () => void, live: () => boolean = () => true): void {
    this.queue.push(Math.max(time, this.now), { fn, live });
  }

  /** Run the next live callback (advancing time to it); false when none is left before `until`. */
  step(until: number): boolean {
    for (;;) {
      const next = this.queue.peekTime();
      if (next === undefined || next > until) return false;
      const { at, event } = this.queue.pop()!;
      this.now = at;
      if (!event.live()) continue;
      event.fn();
      return true;
    }
  }
}

/** Wall-clock ms at virtual time 0: entries and sessions carry plausible times. */
export const epochMs = 1_750_000_000_000;

/**
 * One life of a node's clock on the scheduler: the stages' Clock. A crash stops it, and with
 * it every timer that life started (its pending work never resumes).
 */
export class SimClock implements Clock {
  private alive = true;

  constructor(private readonly scheduler: SimScheduler) {}

  now(): number {
    return epochMs + this.scheduler.now;
  }

  elapsed(): number {
    return this.scheduler.now;
  }

  after(ms: number, fn: () => void): Timer {
    let cancelled = false;
    this.scheduler.at(this.scheduler.now + ms, fn, () => this.alive && !cancelled);
    return {
      cancel: () => {
        cancelled = true;
      },
    };
  }

  every(ms: number, fn: () => void): Timer {
    let cancelled = false;
    const live = () => this.alive && !cancelled;
    const fire = () => {
      this.scheduler.at(this.scheduler.now + ms, fire, live);
      fn();
    };
    this.scheduler.at(this.scheduler.now + ms, fire, live);
    return {
      cancel: () => {
        cancelled = true;
      },
    };
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms, resolve));
  }

  /** The node lost power: nothing this life scheduled runs any more. */
  stop(): void {
    this.alive = false;
  }
}
