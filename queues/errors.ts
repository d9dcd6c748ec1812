/** Operating errors of the pools: typed, with the data the caller needs in readonly fields. */

/** The pool was closed before or while the call ran. Not retryable on this pool. */
export class PoolClosedError extends Error {
  override readonly name = "PoolClosedError";
  readonly code = "POOL_CLOSED";
  readonly retryable = false;

  constructor(readonly pool: string) {
    super(`${pool}: pool is closed`);
  }
}

/** The pool's bounded backlog is full: push back on the caller (OVERLOADED), retry later. */
export class PoolFullError extends Error {
  override readonly name = "PoolFullError";
  readonly code = "POOL_FULL";
  readonly retryable = true;

  constructor(
    readonly pool: string,
    readonly limit: number,
  ) {
    super(`${pool}: ${limit} calls already waiting`);
  }
}

/** A worker thread died while the call was in flight; the pool restarts it. */
export class WorkerExitedError extends Error {
  override readonly name = "WorkerExitedError";
  readonly code = "WORKER_EXITED";
  readonly retryable = true;

  constructor(
    readonly workerIndex: number,
    readonly exitCode: number | null,
    options?: ErrorOptions,
  ) {
    super(`worker ${workerIndex} exited (code ${exitCode ?? "none"})`, options);
  }
}

/** The worker's handler threw: the message (and stack) are the worker's own. */
export class WorkerCallError extends Error {
  override readonly name = "WorkerCallError";
  readonly code = "WORKER_CALL_FAILED";

  constructor(
    readonly workerIndex: number,
    readonly remoteName: string,
    message: string,
    readonly remoteStack?: string,
  ) {
    super(message);
  }
}
