import { EventEmitter } from "eventemitter3";
import { assert } from "./assert.js";
import { BoundedQueue } from "./bounded-queue.js";
import { BatchingController } from "./controller.js";
import { StageMetrics, type StageSnapshot } from "./metrics.js";
import { InlinePool, type PoolKind } from "./pool.js";

export type BatchHandler<T> = (batch: T[]) => void | Promise<void>;

export interface StageBatchOptions {
  readonly maxItems: number;
  /** Bytes per batch; a single larger item still goes alone. Defaults to Infinity. */
  readonly maxBytes?: number;
  /** When set, a BatchingController adapts the limit in [minItems, maxItems] to this target. */
  readonly targetServiceMs?: number;
  readonly minItems?: number;
}

export interface StageOptions<T> {
  readonly capacityItems: number;
  readonly capacityBytes?: number;
  /** An item's bytes when offer() is not told; defaults to 0 (bounded by count alone). */
  readonly sizeOf?: (item: T) => number;
  /** Batches in flight at once; defaults to 1, which keeps the handler calls in order. */
  readonly concurrency?: number;
  /** Defaults to { maxItems: 64 }. */
  readonly batch?: StageBatchOptions;
  /** Reported only: a handler that calls a WorkerPool says so here. Defaults to "inline". */
  readonly poolKind?: PoolKind;
  /** Reported only; defaults to concurrency. */
  readonly poolSize?: number;
  /** Milliseconds; injectable so that tests and remu control time. */
  readonly now?: () => number;
  readonly windowMs?: number;
}

export interface BatchEvent {
  readonly size: number;
  readonly serviceMs: number;
}

export interface StageEvents<T> {
  batch: (event: BatchEvent) => void;
  rejected: (item: T) => void;
  /** The handler threw: the batch is dropped, the stage runs on. */
  error: (error: Error, batch: readonly T[]) => void;
}

const batchItemsDefault = 64;

/**
 * A SEDA stage: a bounded input queue, a batch handler and a concurrency limit. Producers
 * offer() and get false when the queue is full (push back, e.g. OVERLOADED); the stage drains
 * at its own pace, on the next turn of the event loop, never in reaction to each item.
 * Invariant: 0 <= inflight <= concurrency.
 */
export class Stage<T> extends EventEmitter<StageEvents<T>> {
  readonly name: string;
  readonly concurrency: number;
  readonly metrics: StageMetrics;
  private readonly handler: BatchHandler<T>;
  private readonly queue: BoundedQueue<T>;
  private readonly pool: InlinePool;
  private readonly controller: BatchingController | undefined;
  private readonly batchItemsMax: number;
  private readonly batchBytesMax: number;
  private readonly sizeOf: (item: T) => number;
  private readonly now: () => number;
  private inflightBatches = 0;
  private scheduled = false;
  private closed = false;
  private idleWaiter: { promise: Promise<void>; resolve: () => void } | undefined;

  constructor(name: string, handler: BatchHandler<T>, options: StageOptions<T>) {
    super();
    const batch = options.batch ?? { maxItems: batchItemsDefault };
    this.name = name;
    this.handler = handler;
    this.concurrency = options.concurrency ?? 1;
    this.batchItemsMax = batch.maxItems;
    this.batchBytesMax = batch.maxBytes ?? Number.POSITIVE_INFINITY;
    assert(Number.isSafeInteger(this.batchItemsMax) && this.batchItemsMax >= 1, `${name}: batch`);
    assert(this.batchBytesMax >= 1, `${name}: batch maxBytes must be >= 1`);
    this.sizeOf = options.sizeOf ?? (() => 0);
    this.now = options.now ?? (() => performance.now());
    this.queue = new BoundedQueue<T>({
      capacityItems: options.capacityItems,
      ...(options.capacityBytes !== undefined && { capacityBytes: options.capacityBytes }),
      now: this.now,
      drainCallback: (waitMs) => this.metrics.recordWait(waitMs),
    });
    this.pool = new InlinePool(this.concurrency, { name: `${name} pool`, waitingMax: 0 });
    this.controller =
      batch.targetServiceMs === undefined
        ? undefined
        : new BatchingController({
            maxItems: batch.maxItems,
            targetServiceMs: batch.targetServiceMs,
            ...(batch.minItems !== undefined && { minItems: batch.minItems }),
          });
    this.metrics = new StageMetrics({
      name,
      poolKind: options.poolKind ?? "inline",
      poolSize: options.poolSize ?? this.concurrency,
      concurrency: this.concurrency,
      queue: this.queue,
      batchLimit: () => this.batchLimit,
      now: this.now,
      ...(options.windowMs !== undefined && { windowMs: options.windowMs }),
    });
  }

  get depth(): number {
    return this.queue.depth;
  }

  get inflight(): number {
    return this.inflightBatches;
  }

  /** The most items the next batch takes: fixed, or moved by the BatchingController. */
  get batchLimit(): number {
    return this.controller?.limit ?? this.batchItemsMax;
  }

  hasRoom(items: number, bytes: number): boolean {
    return !this.closed && this.queue.hasRoom(items, bytes);
  }

  fillRatio(): number {
    return this.queue.fillRatio();
  }

  /** Never blocks: false means full or closed, and the caller must push back. */
  offer(item: T, bytes: number = this.sizeOf(item)): boolean {
    const accepted = !this.closed && this.queue.offer(item, bytes);
    this.metrics.recordOffer(accepted);
    if (!accepted) {
      this.emit("rejected", item);
      return false;
    }
    this.schedule();
    return true;
  }

  snapshot(): StageSnapshot {
    return this.metrics.snapshot();
  }

  /** Resolves when the queue is empty and no batch is in flight. */
  idle(): Promise<void> {
    if (this.queue.depth === 0 && this.inflightBatches === 0) return Promise.resolve();
    if (this.idleWaiter === undefined) {
      let resolve = () => {};
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      this.idleWaiter = { promise, resolve };
    }
    return this.idleWaiter.promise;
  }

  /** Stops accepting (offer returns false) and resolves once everything accepted is processed. */
  async close(): Promise<void> {
    this.closed = true;
    await this.idle();
    await this.pool.close();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // setImmediate, not a microtask: items offered in this turn and by I/O join one batch.
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  /** Starts batches while there is work and a free slot: at most `concurrency` iterations. */
  private pump(): void {
    // Slots are counted once: a synchronous handler finishes inside run(), before the pool
    // frees its slot, so re-reading inflight here would start more batches than it has slots.
    const slotsFree = this.concurrency - this.inflightBatches;
    for (let k = 0; k < slotsFree && this.queue.depth > 0; k++) {
      const batch = this.queue.drain(this.batchLimit, this.batchBytesMax);
      assert(batch.length >= 1, `${this.name}: drained an empty batch`);
      this.inflightBatches += 1;
      // runBatch catches the handler's throws; a rejection here is a bug and stays unhandled.
      void this.pool.run(() => this.runBatch(batch));
    }
    assert(this.inflightBatches <= this.concurrency, `${this.name}: inflight past concurrency`);
  }

  private async runBatch(batch: T[]): Promise<void> {
    const startMs = this.now();
    let failure: Error | undefined;
    try {
      await this.handler(batch);
    } catch (error) {
      failure = error instanceof Error ? error : new Error(String(error));
    }
    const serviceMs = Math.max(0, this.now() - startMs);
    this.inflightBatches -= 1;
    assert(this.inflightBatches >= 0, `${this.name}: inflight below zero`);
    this.metrics.recordBatch(batch.length, serviceMs);
    this.controller?.observe(batch.length, serviceMs);
    if (failure !== undefined) this.metrics.recordError();
    this.afterBatch();
    // Listeners run last, so that one that throws cannot corrupt the accounting above.
    if (failure !== undefined) this.emit("error", failure, batch);
    this.emit("batch", { size: batch.length, serviceMs });
  }

  private afterBatch(): void {
    if (this.queue.depth > 0) {
      this.schedule();
    } else if (this.inflightBatches === 0 && this.idleWaiter !== undefined) {
      const waiter = this.idleWaiter;
      this.idleWaiter = undefined;
      waiter.resolve();
    }
  }
}
