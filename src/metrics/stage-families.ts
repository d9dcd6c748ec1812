import type { LocalSnapshot, StageRow } from "../dashboard/observer.js";
import type { Define, Read } from "./define.js";

const quantiles = [
  ["0.5", "P50"],
  ["0.99", "P99"],
] as const;

const queues = (s: LocalSnapshot) => s.stages.filter((row) => row.kind === "queue");
const all = (s: LocalSnapshot) => s.stages;
const stage = ["stage"];
const perStage =
  (rows: (s: LocalSnapshot) => readonly StageRow[], value: (row: StageRow) => number): Read =>
  (s, put) => {
    for (const row of rows(s)) put(value(row), { stage: row.name });
  };

/** Per-stage queue gauges, counters, throughput and utilisation. */
export function defineStageMetrics(define: Define): void {
  define.gauge(
    "stageraft_stage_queue_items",
    "Items waiting in the stage's queue",
    stage,
    perStage(queues, (r) => r.queueDepth),
  );
  define.gauge(
    "stageraft_stage_queue_bytes",
    "Bytes waiting in the stage's queue",
    stage,
    perStage(queues, (r) => r.queueBytes),
  );
  define.gauge(
    "stageraft_stage_queue_capacity_items",
    "The bound of the stage's queue, in items",
    stage,
    perStage(queues, (r) => r.queueCapacityItems),
  );
  define.gauge(
    "stageraft_stage_queue_capacity_bytes",
    "The bound of the stage's queue, in bytes (absent when bounded by count alone)",
    stage,
    (s, put) => {
      for (const r of queues(s))
        if (r.queueCapacityBytes !== null) put(r.queueCapacityBytes, { stage: r.name });
    },
  );
  define.counter(
    "stageraft_stage_accepted_total",
    "Items the stage took in (ingress: client frames)",
    stage,
    perStage(all, (r) => r.accepted),
  );
  define.counter(
    "stageraft_stage_rejected_total",
    "Items the stage refused because it was full (ingress: OVERLOADED answers and dropped peer messages)",
    stage,
    perStage(all, (r) => r.rejected),
  );
  define.counter(
    "stageraft_stage_processed_total",
    "Items the stage processed (ingress: client frames)",
    stage,
    perStage(all, (r) => r.processed),
  );
  define.counter(
    "stageraft_stage_errors_total",
    "Batches whose handler failed (ingress: bad client frames)",
    stage,
    perStage(all, (r) => r.errors),
  );
  define.counter(
    "stageraft_stage_batches_total",
    "Batches the stage ran",
    stage,
    perStage(queues, (r) => r.batches),
  );
  define.gauge(
    "stageraft_stage_throughput_items_per_second",
    "Items processed per second over the last 5 s (ingress: client frames per second)",
    stage,
    perStage(all, (r) => r.throughputPerSec),
  );
  define.gauge(
    "stageraft_stage_batch_limit_items",
    "The most items the stage's next batch may take",
    stage,
    perStage(queues, (r) => r.batchLimit),
  );
  define.gauge(
    "stageraft_stage_utilisation_ratio",
    "Fraction of the last 5 s the stage was busy (0-1, per unit of concurrency)",
    stage,
    perStage(queues, (r) => r.utilisation),
  );
}

/** The quantile gauges of the last minute's wait, service time and batch size. */
export function defineStageQuantiles(define: Define): void {
  const withQuantiles =
    (field: "waitMs" | "serviceMs" | "batchSize", scale: number): Read =>
    (s, put) => {
      // An empty window has no quantiles: no sample rather than a stale or a zero one.
      for (const r of queues(s).filter((row) => row.percentileSamples > 0))
        for (const [quantile, suffix] of quantiles)
          put(r[`${field}${suffix}`] / scale, { stage: r.name, quantile });
    };
  const stageQuantile = ["stage", "quantile"];
  define.gauge(
    "stageraft_stage_wait_seconds",
    "Time items waited in the stage's queue, quantiles over the last minute (absent when idle)",
    stageQuantile,
    withQuantiles("waitMs", 1_000),
  );
  define.gauge(
    "stageraft_stage_service_seconds",
    "Time the stage spent on one batch, quantiles over the last minute (absent when idle)",
    stageQuantile,
    withQuantiles("serviceMs", 1_000),
  );
  define.gauge(
    "stageraft_stage_batch_items",
    "Items per batch, quantiles over the last minute (absent when idle)",
    stageQuantile,
    withQuantiles("batchSize", 1),
  );
}
