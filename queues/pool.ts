import PQueue from "p-queue";
import { assert } from "./assert.js";
import { PoolClosedError, PoolFullError } from "./errors.js";

export const poolKinds = ["inline", "workers"] as const;
export type PoolKind = (typeof poolKinds)[number];

/**
 * What every pool reports. The verbs differ by kind: an InlinePool runs closures on this thread
 * (`run`), a WorkerPool sends messages to other threads (`call`), since closures cannot cross.
 */
export interface Pool {
  readonly kind: PoolKind;
  /** Tasks the pool runs at once: the concurrency, or the number of workers. */
  readonly size: number;
  /** Tasks running now (inline) or workers with a call in flight (workers). */
  readonly busy: number;
  /**
   * Stops taking work. An InlinePool lets the tasks it took finish; a WorkerPool terminates its
   * threads and rejects the calls in flight (a worker's task cannot be awaited from here).
   */
  close(): Promise<void>;
}

export interface InlinePoolOptions {
  /** Tasks that may wait for a free slot before run() refuses with PoolFullError. */
  readonly waitingMax?: number;
  readonly name?: string;
}

const waitingMaxDefault = 1_024;

/** Runs tasks on the event loop with at most `concurrency` of them in flight (p-queue). */
export class InlinePool implements Pool {
  readonly kind = "inline";
  readonly size: number;
  private readonly queue: PQueue;
  private readonly waitingMax: number;
  private readonly name: string;
  private closed = false;

  constructor(concurrency: number, options: InlinePoolOptions = {}) {
    assert(Number.isSafeInteger(concurrency), "inline pool: concurrency must be an integer");
    assert(concurrency >= 1, "inline pool: concurrency must be >= 1");
    this.size = concurrency;
    this.waitingMax = options.waitingMax ?? waitingMaxDefault;
    assert(this.waitingMax >= 0, "inline pool: waitingMax must be >= 0");
    this.name = options.name ?? "inline pool";
    this.queue = new PQueue({ concurrency });
  }

  get busy(): number {
    return this.queue.pending;
  }

  /** Tasks queued behind the busy ones. Invariant: waiting <= waitingMax. */
  get waiting(): number {
    return this.queue.size;
  }

  run<R>(task: () => R | Promise<R>): Promise<R> {
    if (this.closed) return Promise.reject(new PoolClosedError(this.name));
    // p-queue's own backlog is unbounded; the bound is ours (a slot free now is not waiting).
    const slotFree = this.queue.pending < this.size;
    if (!slotFree && this.queue.size >= this.waitingMax) {
      return Promise.reject(new PoolFullError(this.name, this.waitingMax));
    }
    // throwOnTimeout narrows the result to R: we set no timeout, so the task's own result is it.
    return this.queue.add(async () => task(), { throwOnTimeout: true });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.queue.onIdle();
  }
}

/**
 * The worker that owns `key` (a Raft group id): pinning keeps one group's messages on one
 * thread, in order. Sequential group ids spread evenly.
 */
export function workerFor(key: number, size: number): number {
  assert(Number.isSafeInteger(key) && key >= 0, `workerFor: key ${key} must be an integer >= 0`);
  assert(Number.isSafeInteger(size) && size >= 1, `workerFor: size ${size} must be >= 1`);
  const index = key % size;
  assert(index >= 0 && index < size, "workerFor: index out of range");
  return index;
}
