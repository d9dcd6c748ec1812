import { assert } from "./assert.js";

/**
 * SEDA resource controllers (Welsh, Culler, Brewer, SOSP 2001). Both are pure: they act only on
 * what they are fed, so they behave the same in a test, in remu and in production.
 */

export interface BatchingControllerOptions {
  readonly maxItems: number;
  /** Defaults to 1. */
  readonly minItems?: number;
  /** The batch service time the controller steers towards. */
  readonly targetServiceMs: number;
  /** Defaults to maxItems: start fast, back off once latency says so. */
  readonly initialItems?: number;
  /** Additive increase per fast, full batch; defaults to max(1, maxItems / 64). */
  readonly increaseItems?: number;
  /** Multiplicative decrease when slow, in (0, 1); defaults to 0.5. */
  readonly decreaseFactor?: number;
  /** The newest observation's weight in the EWMA, in (0, 1]; defaults to 0.25. */
  readonly ewmaWeight?: number;
}

/**
 * Adapts a stage's batch limit to its service latency with AIMD: large batches amortise per-batch
 * costs, but a batch's service time is latency added to every item in it.
 * Invariant: minItems <= limit <= maxItems.
 */
export class BatchingController {
  readonly minItems: number;
  readonly maxItems: number;
  readonly targetServiceMs: number;
  private readonly increaseItems: number;
  private readonly decreaseFactor: number;
  private readonly ewmaWeight: number;
  private limitItems: number;
  private ewmaMs: number | undefined;

  constructor(options: BatchingControllerOptions) {
    this.minItems = options.minItems ?? 1;
    this.maxItems = options.maxItems;
    this.targetServiceMs = options.targetServiceMs;
    this.increaseItems = options.increaseItems ?? Math.max(1, Math.floor(options.maxItems / 64));
    this.decreaseFactor = options.decreaseFactor ?? 0.5;
    this.ewmaWeight = options.ewmaWeight ?? 0.25;
    this.limitItems = options.initialItems ?? options.maxItems;
    assert(Number.isSafeInteger(this.minItems) && this.minItems >= 1, "batching: minItems >= 1");
    assert(Number.isSafeInteger(this.maxItems), "batching: maxItems must be an integer");
    assert(this.minItems <= this.maxItems, "batching: minItems must be <= maxItems");
    assert(this.targetServiceMs > 0, "batching: targetServiceMs must be > 0");
    assert(Number.isSafeInteger(this.increaseItems) && this.increaseItems >= 1, "batching: step");
    assert(this.decreaseFactor > 0 && this.decreaseFactor < 1, "batching: decreaseFactor in (0,1)");
    assert(this.ewmaWeight > 0 && this.ewmaWeight <= 1, "batching: ewmaWeight in (0, 1]");
    assert(this.limitItems >= this.minItems, "batching: initialItems below minItems");
    assert(this.limitItems <= this.maxItems, "batching: initialItems above maxItems");
  }

  /** The largest batch the stage should take next. */
  get limit(): number {
    return this.limitItems;
  }

  get serviceMsEwma(): number | undefined {
    return this.ewmaMs;
  }

  /** Feeds one finished batch; returns the new limit. */
  observe(batchItems: number, serviceMs: number): number {
    assert(batchItems >= 1, "batching: observed an empty batch");
    assert(serviceMs >= 0, "batching: negative service time");
    const ewma = this.ewmaMs === undefined ? serviceMs : this.ewmaMs;
    this.ewmaMs = ewma + this.ewmaWeight * (serviceMs - ewma);
    const limit = this.limitItems;
    if (this.ewmaMs > this.targetServiceMs) {
      const next = Math.max(this.minItems, Math.floor(limit * this.decreaseFactor));
      // Service time scales roughly with batch size: rescale the EWMA to the smaller batches,
      // or the memory of the large ones would keep cutting the limit down to minItems.
      this.ewmaMs *= next / limit;
      this.limitItems = next;
    } else if (this.ewmaMs < this.targetServiceMs && batchItems >= limit) {
      // Only a full batch shows that the limit binds; light load says nothing about bigger batches.
      this.limitItems = Math.min(this.maxItems, limit + this.increaseItems);
    }
    assert(this.limitItems >= this.minItems, "batching: limit below minItems");
    assert(this.limitItems <= this.maxItems, "batching: limit above maxItems");
    return this.limitItems;
  }
}

/** Anything with a fill ratio in [0, 1]: a Stage, a BoundedQueue. */
export interface FillGauge {
  fillRatio(): number;
}

export interface AdmissionControllerOptions {
  /** A downstream queue at or past this fill ratio refuses new work; defaults to 0.9. */
  readonly highWater?: number;
  /** Bounds the requests in flight by their response times (with `inflight`). */
  readonly limiter?: LatencyLimiter;
  /** The requests admitted and not yet answered. */
  readonly inflight?: () => number;
}

/**
 * Admits a request only while every downstream queue is below its high-water mark, so that the
 * ingress answers OVERLOADED at once instead of letting the request die in a full queue deeper in,
 * and (with a limiter) while the requests in flight are within the latency limiter's bound.
 */
export class AdmissionController {
  readonly highWater: number;
  private readonly downstream: readonly FillGauge[];
  private readonly limiter: LatencyLimiter | null;
  private readonly inflight: () => number;
  private admittedCount = 0;
  private refusedCount = 0;

  constructor(downstream: readonly FillGauge[], options: AdmissionControllerOptions = {}) {
    this.highWater = options.highWater ?? 0.9;
    assert(downstream.length >= 1, "admission: no downstream stage to watch");
    assert(this.highWater > 0 && this.highWater <= 1, "admission: highWater in (0, 1]");
    this.downstream = downstream;
    this.limiter = options.limiter ?? null;
    this.inflight = options.inflight ?? (() => 0);
    assert(
      this.limiter === null || options.inflight !== undefined,
      "admission: a limiter needs the count in flight",
    );
  }

  /** The latency limiter's bound on requests in flight (Infinity without one). */
  get limit(): number {
    return this.limiter?.limit ?? Number.POSITIVE_INFINITY;
  }

  /** A response to an admitted request, `latencyMs` after it arrived. */
  observe(latencyMs: number): void {
    this.limiter?.observe(latencyMs);
  }

  get admitted(): number {
    return this.admittedCount;
  }

  get refused(): number {
    return this.refusedCount;
  }

  admit(): boolean {
    const room =
      this.downstream.every((stage) => stage.fillRatio() < this.highWater) &&
      (this.limiter === null || this.limiter.admits(this.inflight()));
    if (room) this.admittedCount += 1;
    else this.refusedCount += 1;
    return room;
  }
}

export interface LatencyLimiterOptions {
  /** The 90th-percentile response time the limit steers towards (ms). */
  readonly targetMs: number;
  /** The limit never falls below this: light load is never refused for latency. */
  readonly minLimit: number;
  readonly maxLimit: number;
  /** Responses per decision; defaults to 128. */
  readonly window?: number;
  /** Multiplicative decrease when the window's p90 is over target, in (0, 1); default 0.75. */
  readonly decreaseFactor?: number;
}

/**
 * SEDA's adaptive overload control (Welsh & Culler, "Adaptive Overload Control for Busy
 * Internet Servers", 2003), on a concurrency limit rather than a token rate: requests in flight
 * beyond the limit are refused at the door. Every `window` responses the 90th percentile of
 * their response times is compared with the target: over it, the limit shrinks (AIMD);
 * under it, and the limit was reached meanwhile, it grows by an eighth. By Little's law the
 * queueing a request can meet is about limit / throughput, so under a flood admitted requests
 * keep a bounded latency and the rest are answered OVERLOADED at once.
 * Invariant: minLimit <= limit <= maxLimit.
 */
export class LatencyLimiter {
  readonly targetMs: number;
  readonly minLimit: number;
  readonly maxLimit: number;
  private readonly decreaseFactor: number;
  private readonly samples: Float64Array;
  private sampled = 0;
  private limitValue: number;
  /** Did the load reach the limit since the last decision (so more room would be used)? */
  private bound = false;

  constructor(options: LatencyLimiterOptions) {
    this.targetMs = options.targetMs;
    this.minLimit = options.minLimit;
    this.maxLimit = options.maxLimit;
    this.decreaseFactor = options.decreaseFactor ?? 0.75;
    this.samples = new Float64Array(options.window ?? 128);
    this.limitValue = options.minLimit;
    assert(this.targetMs > 0, "latency limiter: targetMs must be > 0");
    assert(Number.isSafeInteger(this.minLimit) && this.minLimit >= 1, "latency limiter: minLimit");
    assert(this.minLimit <= this.maxLimit, "latency limiter: minLimit must be <= maxLimit");
    assert(this.samples.length >= 10, "latency limiter: window of at least 10 responses");
    assert(this.decreaseFactor > 0 && this.decreaseFactor < 1, "latency limiter: decrease");
  }

  get limit(): number {
    return this.limitValue;
  }

  /** May one more request start, with `inflight` already in flight? */
  admits(inflight: number): boolean {
    if (inflight + 1 >= this.limitValue) this.bound = true;
    return inflight < this.limitValue;
  }

  /** One response, `latencyMs` after its request arrived. */
  observe(latencyMs: number): void {
    this.samples[this.sampled++] = Math.max(0, latencyMs);
    if (this.sampled < this.samples.length) return;
    this.sampled = 0;
    const sorted = this.samples.slice().sort();
    const p90 = sorted[Math.floor(0.9 * (sorted.length - 1))]!;
    const limit = this.limitValue;
    if (p90 > this.targetMs)
      this.limitValue = Math.max(this.minLimit, Math.floor(limit * this.decreaseFactor));
    else if (this.bound) this.limitValue = Math.min(this.maxLimit, limit + Math.ceil(limit / 8));
    this.bound = false;
    assert(this.limitValue >= this.minLimit, "latency limiter: limit below minLimit");
    assert(this.limitValue <= this.maxLimit, "latency limiter: limit above maxLimit");
  }
}
