// The SEDA machinery: bounded queues, stages, pools, controllers and metrics.
export { AssertionError } from "./assert.js";
export type { BoundedQueueOptions, QueueCapacity } from "./bounded-queue.js";
export { BoundedQueue } from "./bounded-queue.js";
export type { Clock, Timer } from "./clock.js";
export { sleep, systemClock } from "./clock.js";
export type { Closer } from "./closer.js";
export type {
  AdmissionControllerOptions,
  BatchingControllerOptions,
  FillGauge,
} from "./controller.js";
export { AdmissionController, BatchingController, LatencyLimiter } from "./controller.js";
export { PoolClosedError, PoolFullError, WorkerCallError, WorkerExitedError } from "./errors.js";
export type {
  QueueGauge,
  StageMetricsOptions,
  StageSnapshot,
  StageTimeObserver,
} from "./metrics.js";
export { StageMetrics } from "./metrics.js";
export type { InlinePoolOptions, Pool, PoolKind } from "./pool.js";
export { InlinePool, poolKinds, workerFor } from "./pool.js";
export type { WindowTotals } from "./sliding-window.js";
export { SlidingWindow } from "./sliding-window.js";
export type {
  BatchEvent,
  BatchHandler,
  StageBatchOptions,
  StageEvents,
  StageOptions,
} from "./stage.js";
export { Stage } from "./stage.js";
export type { ApiArgs, ApiResult, WorkerApi } from "./worker-api.js";
export { serveApi, WorkerApiClient } from "./worker-api.js";
export type { WorkerHandler } from "./worker-entry.js";
export { serveWorker, WithTransfer, withTransfer } from "./worker-entry.js";
export type { WorkerPoolOptions } from "./worker-pool.js";
export { WorkerPool } from "./worker-pool.js";
export type { CallRequest, CallResponse, RemoteError } from "./worker-protocol.js";
