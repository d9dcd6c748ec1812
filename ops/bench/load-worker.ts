/** The bench's side of a load-generator thread (load.ts): its messages, counters and close. */
import { Worker } from "node:worker_threads";
import type { FromWorker, ToWorker, WorkerInit } from "./load.js";

const workerUrl = new URL("./load.js", import.meta.url);

export function workerScriptUrl(): URL {
  return workerUrl;
}

export class LoadWorker {
  readonly worker: Worker;
  done = 0;
  errors = 0;
  inflight = 0;
  private readonly inbox: FromWorker[] = [];
  private waiter: ((message: FromWorker | null) => void) | null = null;
  failure: string | null = null;

  constructor(init: WorkerInit) {
    this.worker = new Worker(workerUrl, { workerData: init });
    this.worker.on("message", (message: FromWorker) => {
      if (message.type === "tick") {
        this.done = message.done;
        this.errors = message.errors;
        this.inflight = message.inflight;
        return;
      }
      this.deliver(message);
    });
    this.worker.on("error", (error) => {
      this.failure = error.stack ?? error.message;
      this.deliver({ type: "init-failed", message: `load generator crashed: ${error.message}` });
    });
    this.worker.on("exit", (code) => {
      this.failure ??= `load generator thread exited (${code})`;
      this.deliver({ type: "init-failed", message: this.failure });
    });
  }

  private deliver(message: FromWorker): void {
    const waiter = this.waiter;
    if (waiter !== null) {
      this.waiter = null;
      waiter(message);
    } else this.inbox.push(message);
  }

  /** The next non-tick message, or null past the timeout. */
  next(timeoutMs: number): Promise<FromWorker | null> {
    const queued = this.inbox.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolveNext) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        resolveNext(null);
      }, timeoutMs);
      this.waiter = (message) => {
        clearTimeout(timer);
        resolveNext(message);
      };
    });
  }

  send(message: ToWorker): void {
    this.worker.postMessage(message);
  }

  resetCounters(): void {
    this.done = 0;
    this.errors = 0;
    this.inflight = 0;
  }

  async close(): Promise<void> {
    try {
      this.send({ type: "close" });
      await this.next(2_000);
    } catch {
      // the thread is gone already
    }
    await this.worker.terminate();
  }
}
