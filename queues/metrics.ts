import { build, type Histogram } from "hdr-histogram-js";
import { assert } from "./assert.js";
import type { QueueCapacity } from "./bounded-queue.js";
import type { PoolKind } from "./pool.js";
import { SlidingWindow } from "./sliding-window.js";

/** What the metrics read from the stage's queue at snapshot time (a BoundedQueue fits). */
export interface QueueGauge {
  readonly depth: number;
  readonly bytes: number;
  readonly capacity: QueueCapacity;
}

export interface StageMetricsOptions {
  readonly name: string;
  readonly poolKind: PoolKind;
  readonly poolSize: number;
  /**
   * Batches the stage runs at once: utilisation is busy time over wall time × concurrency. A
   * batch's busy time counts when it finishes, so a long batch shows up late, in one bucket.
   */
  readonly concurrency: number;
  readonly queue: QueueGauge;
  /** The stage's current batch limit (it moves when a BatchingController drives it). */
  readonly batchLimit: () => number;
  /** Milliseconds; injectable so that tests and remu control time. */
  readonly now?: () => number;
  /** The span of throughput and utilisation; defaults to 5 s. */
  readonly windowMs?: number;
}

/** A plain, JSON-able picture of one stage: times in ms, sizes in items or bytes. */
export interface StageSnapshot {
  readonly name: string;
  readonly poolKind: PoolKind;
  readonly poolSize: number;
  readonly queueDepth: number;
  readonly queueBytes: number;
  readonly queueCapacityItems: number;
  /** null when the queue has no byte bound (JSON has no Infinity). */
  readonly queueCapacityBytes: number | null;
  readonly accepted: number;
  readonly rejected: number;
  readonly processed: number;
  readonly batches: number;
  readonly errors: number;
  readonly throughputPerSec: number;
  readonly waitMsP50: number;
  readonly waitMsP99: number;
  readonly serviceMsP50: number;
  readonly serviceMsP99: number;
  readonly batchSizeP50: number;
  readonly batchSizeP99: number;
  readonly batchLimit: number;
  readonly utilisation: number;
}

const windowMsDefault = 5_000;
const windowBuckets = 10;
const usPerMs = 1_000;

/**
 * The measurements a SEDA controller and an operator need for one stage. Counters are cumulative;
 * the histograms and the sliding window are the "windowed parts" that reset() clears.
 */
export class StageMetrics {
  private readonly options: StageMetricsOptions;
  private readonly now: () => number;
  // Times are recorded in integer microseconds: hdr histograms hold integers.
  private readonly waitUs: Histogram = newHistogram();
  private readonly serviceUs: Histogram = newHistogram();
  private readonly batchItems: Histogram = newHistogram();
  private readonly window: SlidingWindow;
  private acceptedCount = 0;
  private rejectedCount = 0;
  private processedCount = 0;
  private batchCount = 0;
  private errorCount = 0;

  constructor(options: StageMetricsOptions) {
    assert(options.concurrency >= 1, "stage metrics: concurrency must be >= 1");
    assert(options.poolSize >= 1, "stage metrics: poolSize must be >= 1");
    this.options = options;
    this.now = options.now ?? (() => performance.now());
    this.window = new SlidingWindow(options.windowMs ?? windowMsDefault, windowBuckets, this.now());
  }

  get accepted(): number {
    return this.acceptedCount;
  }

  get rejected(): number {
    return this.rejectedCount;
  }

  get processed(): number {
    return this.processedCount;
  }

  get batches(): number {
    return this.batchCount;
  }

  get errors(): number {
    return this.errorCount;
  }

  recordOffer(accepted: boolean): void {
    if (accepted) this.acceptedCount += 1;
    else this.rejectedCount += 1;
  }

  recordWait(waitMs: number): void {
    this.waitUs.recordValue(toUs(waitMs));
  }

  recordBatch(items: number, serviceMs: number): void {
    assert(Number.isSafeInteger(items) && items >= 1, "stage metrics: batch of no items");
    this.serviceUs.recordValue(toUs(serviceMs));
    this.batchItems.recordValue(items);
    this.window.add(this.now(), items, Math.max(0, serviceMs));
    this.processedCount += items;
    this.batchCount += 1;
  }

  recordError(): void {
    this.errorCount += 1;
  }

  snapshot(): StageSnapshot {
    const { options } = this;
    const totals = this.window.totals(this.now());
    const spanSec = totals.spanMs / 1_000;
    const busyRatio = totals.busyMs / (totals.spanMs * options.concurrency);
    return {
      name: options.name,
      poolKind: options.poolKind,
      poolSize: options.poolSize,
      queueDepth: options.queue.depth,
      queueBytes: options.queue.bytes,
      queueCapacityItems: options.queue.capacity.items,
      queueCapacityBytes: Number.isFinite(options.queue.capacity.bytes)
        ? options.queue.capacity.bytes
        : null,
      accepted: this.acceptedCount,
      rejected: this.rejectedCount,
      processed: this.processedCount,
      batches: this.batchCount,
      errors: this.errorCount,
      throughputPerSec: spanSec > 0 ? totals.items / spanSec : 0,
      waitMsP50: percentile(this.waitUs, 50) / usPerMs,
      waitMsP99: percentile(this.waitUs, 99) / usPerMs,
      serviceMsP50: percentile(this.serviceUs, 50) / usPerMs,
      serviceMsP99: percentile(this.serviceUs, 99) / usPerMs,
      batchSizeP50: percentile(this.batchItems, 50),
      batchSizeP99: percentile(this.batchItems, 99),
      batchLimit: options.batchLimit(),
      utilisation: totals.spanMs > 0 ? Math.min(1, busyRatio) : 0,
    };
  }

  /** Clears the windowed parts (histograms, throughput, utilisation); counters keep counting. */
  reset(): void {
    this.waitUs.reset();
    this.serviceUs.reset();
    this.batchItems.reset();
    this.window.reset(this.now());
  }
}

function newHistogram(): Histogram {
  // The plain JS implementation: no WebAssembly to initialise. Two digits are 1% precision.
  return build({ numberOfSignificantValueDigits: 2 });
}

function toUs(ms: number): number {
  return Math.max(0, Math.round(ms * usPerMs));
}

function percentile(histogram: Histogram, p: number): number {
  return histogram.totalCount === 0 ? 0 : histogram.getValueAtPercentile(p);
}
