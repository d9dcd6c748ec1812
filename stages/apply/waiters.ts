import { assert } from "../../queues/assert.js";
import { type ReplyTarget, requestsWaitingMax } from "../items.js";
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
  /**
   * Invariant: count <= capacity. raft-step admits a write only while apply has room for its
   * waiter (ApplyStage.waitersRoom counts these and the waits still queued), so a full table
   * refuses writes OVERLOADED before they are proposed; an add past it is a broken bound.
   */
  private count = 0;

  constructor(readonly capacity = requestsWaitingMax) {
    assert(Number.isSafeInteger(capacity) && capacity >= 1, "waiters: capacity >= 1");
  }

  get size(): number {
    return this.count;
  }

  add(index: number, waiter: Waiter): void {
    assert(this.count < this.capacity, "waiters: add past capacity");
    this.count++;
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
    const taken = Array.isArray(held) ? held : [held];
    this.count -= taken.length;
    return taken;
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
    this.count -= expired.length;
    assert(this.count >= 0, "waiters: count below zero");
    return expired;
  }
}
