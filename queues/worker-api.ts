import type { TransferListItem } from "node:worker_threads";
import { serveWorker, type WithTransfer } from "./worker-entry.js";
import type { WorkerPool } from "./worker-pool.js";

/**
 * A typed API over a WorkerPool: the worker module serves an object of methods (serveApi), and
 * the caller names a method and gets its argument and result types from the same interface
 * (WorkerApiClient), so neither side casts what crosses the thread boundary. Both worker
 * pools (raft-step's cores, apply's state machine) speak it.
 */

/** A worker's methods; each takes one structured-clonable argument object. */
// biome-ignore lint/suspicious/noExplicitAny: the argument's type is each method's own.
export type WorkerApi = Record<string, (args: any) => unknown>;

type Unwrapped<R> = R extends WithTransfer<infer V> ? V : R;
/** What calling `method` of Api resolves to (a WithTransfer result arrives unwrapped). */
export type ApiResult<Api extends WorkerApi, M extends keyof Api> = Unwrapped<
  Awaited<ReturnType<Api[M]>>
>;
export type ApiArgs<Api extends WorkerApi, M extends keyof Api> = Parameters<Api[M]>[0];

/** The one message shape of an API call. */
interface ApiCall {
  readonly method: string;
  readonly args: unknown;
}

export class WorkerApiClient<Api extends WorkerApi> {
  constructor(readonly pool: WorkerPool) {}

  /** `transferList`: buffers in `args` to move to the worker rather than copy. */
  call<M extends keyof Api & string>(
    worker: number,
    method: M,
    args: ApiArgs<Api, M>,
    transferList: readonly TransferListItem[] = [],
  ): Promise<ApiResult<Api, M>> {
    const call: ApiCall = { method, args };
    return this.pool.call<ApiResult<Api, M>>(worker, call, transferList);
  }
}

/** Called once by a worker module: every call runs the named method of `api`. */
export function serveApi<Api extends WorkerApi>(api: Api): void {
  serveWorker<ApiCall, unknown>((call) => {
    if (!Object.hasOwn(api, call.method))
      throw new Error(`worker: no method ${JSON.stringify(call.method)}`);
    return api[call.method]!(call.args);
  });
}
