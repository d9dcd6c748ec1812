import { type TransferListItem, Worker } from "node:worker_threads";
import { assert } from "./assert.js";
import { PoolClosedError, PoolFullError, WorkerCallError, WorkerExitedError } from "./errors.js";
import type { Pool } from "./pool.js";
import type { CallRequest, CallResponse } from "./worker-protocol.js";

export interface WorkerPoolOptions {
  readonly size: number;
  /** Each worker's workerData, by its index (a worker may own the groups pinned to it). */
  readonly workerData?: (workerIndex: number) => unknown;
  /** Calls in flight per worker before call() refuses with PoolFullError. */
  readonly inflightMax?: number;
  /** Unexpected exits restarted in the pool's life; past it a worker stays down (crash loop). */
  readonly restartsMax?: number;
  readonly name?: string;
}

interface PendingCall {
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: Error) => void;
}

interface WorkerSlot {
  readonly index: number;
  /** null once the slot is down for good (closed, or past restartsMax). */
  worker: Worker | null;
  /** Invariant: pending.size <= inflightMax. */
  readonly pending: Map<number, PendingCall>;
  /** The uncaught error that is about to end the worker, kept as the exit's cause. */
  lastError: Error | undefined;
}

const inflightMaxDefault = 4_096;
const restartsMaxDefault = 100;

/**
 * N worker threads running a module that calls serveWorker(). Calls are messages with request
 * ids; a fixed workerIndex pins a call to one worker (workerFor), "any" picks the least loaded.
 * A worker that dies rejects its calls in flight and is replaced at the same index.
 */
export class WorkerPool implements Pool {
  readonly kind = "workers";
  readonly size: number;
  private readonly entry: URL | string;
  private readonly options: WorkerPoolOptions;
  private readonly name: string;
  private readonly slots: WorkerSlot[];
  private nextRequestId = 1;
  private cursor = 0;
  private restartCount = 0;
  private closed = false;

  constructor(entry: URL | string, options: WorkerPoolOptions) {
    assert(Number.isSafeInteger(options.size), "worker pool: size must be an integer");
    assert(options.size >= 1, "worker pool: size must be >= 1");
    assert((options.inflightMax ?? 1) >= 1, "worker pool: inflightMax must be >= 1");
    this.entry = entry;
    this.options = options;
    this.size = options.size;
    this.name = options.name ?? "worker pool";
    this.slots = Array.from({ length: options.size }, (_, index) => ({
      index,
      worker: null,
      pending: new Map<number, PendingCall>(),
      lastError: undefined,
    }));
    for (const slot of this.slots) this.start(slot);
  }

  get busy(): number {
    return this.slots.filter((slot) => slot.pending.size > 0).length;
  }

  /** Workers running now: size, less the ones down for good. */
  get live(): number {
    return this.slots.filter((slot) => slot.worker !== null).length;
  }

  get restarts(): number {
    return this.restartCount;
  }

  inflight(workerIndex: number): number {
    return this.slot(workerIndex).pending.size;
  }

  /**
   * Runs the worker's handler on payload. Buffers in transferList move to the worker (detached
   * here) instead of being copied. R is the caller's claim: results cross threads unchecked.
   */
  call<R = unknown>(
    target: number | "any",
    payload: unknown,
    transferList: readonly TransferListItem[] = [],
  ): Promise<R> {
    if (this.closed) return Promise.reject(new PoolClosedError(this.name));
    const slot = target === "any" ? this.leastLoaded() : this.slot(target);
    if (slot.worker === null) return Promise.reject(new WorkerExitedError(slot.index, null));
    const inflightMax = this.options.inflightMax ?? inflightMaxDefault;
    if (slot.pending.size >= inflightMax) {
      return Promise.reject(new PoolFullError(`${this.name} worker ${slot.index}`, inflightMax));
    }
    const id = this.nextRequestId++;
    const request: CallRequest = { id, payload };
    return new Promise<R>((resolve, reject) => {
      try {
        slot.worker!.postMessage(request, transferList);
      } catch (error) {
        reject(error as Error); // Not cloneable: nothing was sent.
        return;
      }
      slot.pending.set(id, { resolve: resolve as (result: unknown) => void, reject });
    });
  }

  /** Terminates every worker; calls still in flight reject with PoolClosedError. */
  async close(): Promise<void> {
    this.closed = true;
    const workers = this.slots.map((slot) => slot.worker).filter((w) => w !== null);
    await Promise.all(workers.map((worker) => worker.terminate()));
    assert(this.live === 0, "worker pool: a worker outlived close()");
  }

  private slot(workerIndex: number): WorkerSlot {
    const slot = this.slots[workerIndex];
    assert(slot !== undefined, `worker pool: no worker ${workerIndex} (size ${this.size})`);
    return slot;
  }

  /** The live worker with the fewest calls in flight; ties rotate so that load spreads. */
  private leastLoaded(): WorkerSlot {
    let best: WorkerSlot | undefined;
    for (let k = 0; k < this.size; k++) {
      const slot = this.slot((this.cursor + k) % this.size);
      if (slot.worker === null) continue;
      if (best === undefined || slot.pending.size < best.pending.size) best = slot;
    }
    this.cursor = (this.cursor + 1) % this.size;
    return best ?? this.slot(this.cursor); // All down: call() rejects on the dead slot.
  }

  private start(slot: WorkerSlot): void {
    assert(slot.worker === null, "worker pool: starting over a live worker");
    const worker = new Worker(this.entry, { workerData: this.options.workerData?.(slot.index) });
    slot.worker = worker;
    slot.lastError = undefined;
    worker.on("message", (response: CallResponse) => this.settle(slot, response));
    // Without an "error" listener an uncaught exception in the worker would crash this thread.
    worker.on("error", (error) => {
      slot.lastError = error;
    });
    worker.on("exit", (exitCode) => this.exited(slot, worker, exitCode));
  }

  private settle(slot: WorkerSlot, response: CallResponse): void {
    const call = slot.pending.get(response.id);
    assert(call !== undefined, `worker pool: worker ${slot.index} answered unknown ${response.id}`);
    slot.pending.delete(response.id);
    if (response.ok) {
      call.resolve(response.result);
    } else {
      const { name, message, stack } = response.error;
      call.reject(new WorkerCallError(slot.index, name, message, stack));
    }
  }

  private exited(slot: WorkerSlot, worker: Worker, exitCode: number): void {
    assert(slot.worker === worker, "worker pool: exit of a worker the slot no longer holds");
    slot.worker = null;
    const cause = slot.lastError;
    const error = this.closed
      ? new PoolClosedError(this.name)
      : new WorkerExitedError(slot.index, exitCode, cause && { cause });
    for (const call of slot.pending.values()) call.reject(error);
    slot.pending.clear();
    const restartsMax = this.options.restartsMax ?? restartsMaxDefault;
    if (this.closed || this.restartCount >= restartsMax) return;
    this.restartCount += 1;
    this.start(slot);
  }
}
