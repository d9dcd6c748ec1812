import { Counter, collectDefaultMetrics, Registry } from "prom-client";
import type { LocalReplyTarget } from "../stages/items.js";
import type { LocalSnapshot } from "./dashboard/observer.js";
import { defineConnectionMetrics } from "./metrics/connection-families.js";
import { snapshotFamilies } from "./metrics/define.js";
import { LatencyHistograms, type TimedStage } from "./metrics/histograms.js";
import {
  defineEngineMetrics,
  defineRaftMetrics,
  defineStorageMetrics,
} from "./metrics/raft-families.js";
import { defineStageMetrics, defineStageQuantiles } from "./metrics/stage-families.js";

export type { TimedStage } from "./metrics/histograms.js";

export interface NodeMetricsOptions {
  /** The `node` label on every series (default labels). */
  readonly node: string;
  /** prom-client's process and Node.js runtime metrics; defaults to true. */
  readonly defaultMetrics?: boolean;
  /** The queue stages whose wait and service times feed the histograms. */
  readonly stages?: readonly TimedStage[];
}

/**
 * /metrics for one node: a prom-client Registry built when the node starts (so that the
 * histograms and the process CPU counter cover the node's whole life), whose gauges and
 * counters read the node's live values at scrape time (one LocalSnapshot per scrape, shared by
 * every collector), beside histograms observed as events happen. Names follow the Prometheus
 * conventions: prefix stageraft_, base units (seconds, bytes, items), _total for counters.
 * Queue series carry the five queue stages; ingress has no queue, so it appears only in the
 * throughput, accepted/rejected/processed/errors series (frames, refusals, bad frames).
 */
export class NodeMetrics {
  readonly registry = new Registry();
  private readonly histograms: LatencyHistograms;
  private scrape: LocalSnapshot | null = null;

  constructor(
    private readonly source: () => LocalSnapshot,
    options: NodeMetricsOptions,
  ) {
    this.registry.setDefaultLabels({ node: options.node });
    if (options.defaultMetrics ?? true) {
      const usage = process.cpuUsage();
      collectDefaultMetrics({ register: this.registry });
      this.countCpuSoFar(usage);
    }
    const define = snapshotFamilies(this.registry, () => this.current());
    defineStageMetrics(define);
    defineStageQuantiles(define);
    defineRaftMetrics(define);
    defineStorageMetrics(define);
    defineEngineMetrics(define, source());
    defineConnectionMetrics(define);
    this.histograms = new LatencyHistograms(this.registry, options.stages ?? []);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The text exposition; every collector reads the same snapshot. */
  async render(): Promise<string> {
    this.scrape = this.source();
    try {
      return await this.registry.metrics();
    } finally {
      this.scrape = null;
    }
  }

  /** A reply to a local client was written: its latency, by op. */
  replied(target: LocalReplyTarget): void {
    this.histograms.replied(target);
  }

  private current(): LocalSnapshot {
    return this.scrape ?? this.source();
  }

  /**
   * prom-client counts CPU from its registration on; the process had used CPU before (start-up,
   * loading the log and the state): add that, so process_cpu_seconds_total is the process's.
   */
  private countCpuSoFar(usage: NodeJS.CpuUsage): void {
    const add = (name: string, micros: number) => {
      const metric = this.registry.getSingleMetric(name);
      if (metric instanceof Counter) metric.inc(micros / 1e6);
    };
    add("process_cpu_user_seconds_total", usage.user);
    add("process_cpu_system_seconds_total", usage.system);
    add("process_cpu_seconds_total", usage.user + usage.system);
  }
}
