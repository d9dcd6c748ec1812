import type { Histogram } from "hdr-histogram-js";
import { assert } from "./assert.js";
import type { QueueCapacity } from "./bounded-queue.js";
import type { PoolKind } from "./pool.js";
import { SlidingWindow } from "./sliding-window.js";
import { WindowedHistogram } from "./windowed-histogram.js";

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
  /** The span of the wait, service and batch percentiles; defaults to 60 s. */
  readonly percentileWindowMs?: number;
}

/** Sees every wait and service time as it is recorded (e.g. a Prometheus histogram). */
export interface StageTimeObserver {
  wait(ms: number): void;
  service(ms: number): void;
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
  /** Batches in the percentile window: 0 means the percentiles are empty (shown as 0). */
  readonly percentileSamples: number;
  readonly percentileWindowMs: number;
  readonly batchLimit: number;
  readonly utilisation: number;
}

const windowMsDefault = 5_000;
const windowBuckets = 10;
const percentileWindowMsDefault = 60_000;
const percentileBuckets = 6;
const usPerMs = 1_000;

/**
 * The measurements a SEDA controller and an operator need for one stage. Counters are cumulative;
 * the histograms and the sliding window are the "windowed parts" that reset() clears.
 */
export class StageMetrics {
  private readonly options: StageMetricsOptions;
  private readonly now: () => number;
  // Times are recorded in integer microseconds: hdr histograms hold integers.
  private readonly waitUs: WindowedHistogram;
  private readonly serviceUs: WindowedHistogram;
  private readonly batchItems: WindowedHistogram;
  private readonly window: SlidingWindow;
  /** Set by whoever exports the times (src/metrics); null records nothing more. */
  observer: StageTimeObserver | null = null;
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
    const percentileMs = options.percentileWindowMs ?? percentileWindowMsDefault;
    this.waitUs = new WindowedHistogram(percentileMs, percentileBuckets);
    this.serviceUs = new WindowedHistogram(percentileMs, percentileBuckets);
    this.batchItems = new WindowedHistogram(percentileMs, percentileBuckets);
  }

  get percentileWindowMs(): number {
    return this.batchItems.windowMs;
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
    this.waitUs.record(this.now(), toUs(waitMs));
    this.observer?.wait(waitMs);
  }

  recordBatch(items: number, serviceMs: number): void {
    assert(Number.isSafeInteger(items) && items >= 1, "stage metrics: batch of no items");
    const nowMs = this.now();
    this.serviceUs.record(nowMs, toUs(serviceMs));
    this.batchItems.record(nowMs, items);
    this.window.add(nowMs, items, Math.max(0, serviceMs));
    this.observer?.service(serviceMs);
    this.processedCount += items;
    this.batchCount += 1;
  }

  recordError(): void {
    this.errorCount += 1;
  }

  snapshot(): StageSnapshot {
    const { options } = this;
    const nowMs = this.now();
    const totals = this.window.totals(nowMs);
    const wait = percentiles(this.waitUs.read(nowMs), usPerMs);
    const service = percentiles(this.serviceUs.read(nowMs), usPerMs);
    const batchItems = this.batchItems.read(nowMs);
    const batch = percentiles(batchItems, 1);
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
      waitMsP50: wait.p50,
      waitMsP99: wait.p99,
      serviceMsP50: service.p50,
      serviceMsP99: service.p99,
      batchSizeP50: batch.p50,
      batchSizeP99: batch.p99,
      percentileSamples: batchItems.totalCount,
      percentileWindowMs: this.percentileWindowMs,
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

function toUs(ms: number): number {
  return Math.max(0, Math.round(ms * usPerMs));
}

/** p50 and p99 divided by `scale`; 0 for an empty window (percentileSamples says so). */
function percentiles(histogram: Histogram, scale: number): { p50: number; p99: number } {
  if (histogram.totalCount === 0) return { p50: 0, p99: 0 };
  return {
    p50: histogram.getValueAtPercentile(50) / scale,
    p99: histogram.getValueAtPercentile(99) / scale,
  };
}
