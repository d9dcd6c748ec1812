import { Histogram, type Registry } from "prom-client";
import type { StageTimeObserver } from "../../queues/mod.js";
import type { LocalReplyTarget } from "../../stages/items.js";
import { writeOps } from "../../stages/protocol.js";

/** What the histograms attach to: a stage's metrics (wait and service times as recorded). */
export interface TimedStage {
  readonly name: string;
  readonly metrics: { observer: StageTimeObserver | null };
}

/** Seconds, from 100 µs (an idle queue) to 10 s (far past any request timeout). */
const stageBuckets = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
const requestBuckets = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/**
 * Prometheus histograms (cumulative _bucket/_sum/_count, aggregatable across nodes and over
 * time, unlike the quantile gauges): stage wait and service time, observed as the stage
 * records them, and client request latency by op, from ingress to the reply's write. Every
 * series is zeroed at start so that it exists from the first scrape.
 */
export class LatencyHistograms {
  private readonly request: Histogram<"op">;

  constructor(registry: Registry, stages: readonly TimedStage[]) {
    const registers = [registry];
    const wait = new Histogram({
      name: "stageraft_stage_wait_duration_seconds",
      help: "Time items waited in the stage's queue",
      labelNames: ["stage"],
      buckets: stageBuckets,
      registers,
    });
    const service = new Histogram({
      name: "stageraft_stage_service_duration_seconds",
      help: "Time the stage spent on one batch",
      labelNames: ["stage"],
      buckets: stageBuckets,
      registers,
    });
    this.request = new Histogram({
      name: "stageraft_client_request_duration_seconds",
      help: "Client requests from their arrival at this node to their reply's write, by op",
      labelNames: ["op"],
      buckets: requestBuckets,
      registers,
    });
    for (const op of Object.keys(writeOps)) this.request.zero({ op });
    for (const stage of stages) {
      const labels = { stage: stage.name };
      wait.zero(labels);
      service.zero(labels);
      // Bound once: the hot path does not build label objects.
      const waitChild = wait.labels(labels);
      const serviceChild = service.labels(labels);
      stage.metrics.observer = {
        wait: (ms) => waitChild.observe(ms / 1_000),
        service: (ms) => serviceChild.observe(ms / 1_000),
      };
    }
  }

  /** A reply to a local client was written now; untimed targets are left out. */
  replied(target: LocalReplyTarget, nowMs: number = performance.now()): void {
    if (target.op === undefined || target.receivedMs === undefined) return;
    this.request.observe({ op: target.op }, Math.max(0, nowMs - target.receivedMs) / 1_000);
  }
}
