import { assert } from "./assert.js";

export interface WindowTotals {
  readonly items: number;
  readonly busyMs: number;
  /** The wall time the totals cover: the window, or less right after a reset. */
  readonly spanMs: number;
}

/**
 * Item and busy-time totals over the last windowMs, kept in a fixed ring of time buckets so that
 * memory stays constant however many events arrive. Old buckets are recognised by their epoch.
 * Invariant: every bucket's epoch is <= the newest epoch seen.
 */
export class SlidingWindow {
  readonly windowMs: number;
  private readonly bucketMs: number;
  private readonly epochs: Float64Array;
  private readonly items: Float64Array;
  private readonly busyMs: Float64Array;
  private startMs: number;

  constructor(windowMs: number, bucketCount: number, startMs: number) {
    assert(windowMs > 0, "sliding window: windowMs must be > 0");
    assert(Number.isSafeInteger(bucketCount) && bucketCount >= 1, "sliding window: buckets >= 1");
    this.windowMs = windowMs;
    this.bucketMs = windowMs / bucketCount;
    this.epochs = new Float64Array(bucketCount).fill(-1);
    this.items = new Float64Array(bucketCount);
    this.busyMs = new Float64Array(bucketCount);
    this.startMs = startMs;
  }

  add(nowMs: number, items: number, busyMs: number): void {
    assert(nowMs >= 0, "sliding window: time before the clock's origin");
    assert(items >= 0 && busyMs >= 0, "sliding window: negative sample");
    const epoch = Math.floor(nowMs / this.bucketMs);
    const slot = epoch % this.epochs.length;
    if (this.epochs[slot] !== epoch) {
      this.epochs[slot] = epoch; // A bucket from an older lap: start it afresh.
      this.items[slot] = 0;
      this.busyMs[slot] = 0;
    }
    this.items[slot]! += items;
    this.busyMs[slot]! += busyMs;
  }

  totals(nowMs: number): WindowTotals {
    const epochNow = Math.floor(nowMs / this.bucketMs);
    const epochOldest = epochNow - this.epochs.length + 1;
    let items = 0;
    let busyMs = 0;
    for (let slot = 0; slot < this.epochs.length; slot++) {
      const epoch = this.epochs[slot]!;
      if (epoch < epochOldest || epoch > epochNow) continue;
      items += this.items[slot]!;
      busyMs += this.busyMs[slot]!;
    }
    // The oldest bucket counts whole, so the span runs from its start (or from the reset).
    const spanStartMs = Math.max(this.startMs, epochOldest * this.bucketMs);
    return { items, busyMs, spanMs: Math.max(0, nowMs - spanStartMs) };
  }

  reset(nowMs: number): void {
    this.epochs.fill(-1);
    this.items.fill(0);
    this.busyMs.fill(0);
    this.startMs = nowMs;
  }
}
