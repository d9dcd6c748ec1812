import { build, type Histogram } from "hdr-histogram-js";
import { assert } from "./assert.js";

/**
 * Percentiles over the last windowMs: a fixed ring of hdr histograms, one per time bucket,
 * merged when read. Old samples fall out as the ring turns, so an idle stage's percentiles
 * decay to "no samples" instead of repeating a busy minute for ever. Values are integers.
 * Invariant: every bucket's epoch is <= the newest epoch seen.
 */
export class WindowedHistogram {
  readonly windowMs: number;
  private readonly bucketMs: number;
  private readonly epochs: Float64Array;
  private readonly buckets: Histogram[];
  private readonly merged: Histogram = newHistogram();

  constructor(windowMs: number, bucketCount: number) {
    assert(windowMs > 0, "windowed histogram: windowMs must be > 0");
    assert(Number.isSafeInteger(bucketCount) && bucketCount >= 1, "windowed histogram: buckets");
    this.windowMs = windowMs;
    this.bucketMs = windowMs / bucketCount;
    this.epochs = new Float64Array(bucketCount).fill(-1);
    this.buckets = Array.from({ length: bucketCount }, newHistogram);
  }

  record(nowMs: number, value: number): void {
    assert(nowMs >= 0, "windowed histogram: time before the clock's origin");
    const epoch = Math.floor(nowMs / this.bucketMs);
    const slot = epoch % this.epochs.length;
    if (this.epochs[slot] !== epoch) {
      this.epochs[slot] = epoch; // A bucket from an older lap: start it afresh.
      this.buckets[slot]!.reset();
    }
    this.buckets[slot]!.recordValue(value);
  }

  /** The samples of the window merged into one histogram (valid until the next read). */
  read(nowMs: number): Histogram {
    const epochNow = Math.floor(nowMs / this.bucketMs);
    const epochOldest = epochNow - this.epochs.length + 1;
    this.merged.reset();
    for (let slot = 0; slot < this.epochs.length; slot++) {
      const epoch = this.epochs[slot]!;
      if (epoch < epochOldest || epoch > epochNow) continue;
      if (this.buckets[slot]!.totalCount > 0) this.merged.add(this.buckets[slot]!);
    }
    return this.merged;
  }

  reset(): void {
    this.epochs.fill(-1);
    for (const bucket of this.buckets) bucket.reset();
  }
}

function newHistogram(): Histogram {
  // The plain JS implementation: no WebAssembly to initialise. Two digits are 1% precision.
  return build({ numberOfSignificantValueDigits: 2 });
}
