import type { ReplyTarget } from "../items.js";
import type { ClientRequest } from "../protocol.js";

/** A client waiting for the entry its write was proposed as. */
export interface Waiter {
  readonly term: number;
  readonly target: ReplyTarget;
  readonly request: ClientRequest;
  readonly deadline: number;
}

/**
 * The clients waiting for proposed entries, by entry index. Mostly one per entry; the
 * keep-alives the leader batched into one entry (raft-step/keepalive-batch.ts) share its
 * index. A lone waiter is kept as it is, so that the common case allocates no list.
 */
export class Waiters {
  private readonly byIndex = new Map<number, Waiter | Waiter[]>();

  add(index: number, waiter: Waiter): void {
    const held = this.byIndex.get(index);
    if (held === undefined) this.byIndex.set(index, waiter);
    else if (Array.isArray(held)) held.push(waiter);
    else this.byIndex.set(index, [held, waiter]);
  }

  /** Remove and return the waiters of entry `index` (none: empty). */
  take(index: number): readonly Waiter[] {
    const held = this.byIndex.get(index);
    if (held === undefined) return [];
    this.byIndex.delete(index);
    return Array.isArray(held) ? held : [held];
  }

  /** Remove and return the waiters whose deadline is at or before `now`. */
  expire(now: number): Waiter[] {
    const expired: Waiter[] = [];
    for (const [index, held] of this.byIndex) {
      const all = Array.isArray(held) ? held : [held];
      const live = all.filter((waiter) => waiter.deadline > now);
      if (live.length === all.length) continue;
      expired.push(...all.filter((waiter) => waiter.deadline <= now));
      if (live.length === 0) this.byIndex.delete(index);
      else this.byIndex.set(index, live.length === 1 ? live[0]! : live);
    }
    return expired;
  }
}
