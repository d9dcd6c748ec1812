import type { StageSnapshot } from "../queues/mod.js";

/** What /metrics needs from a node (kept small so tests can fake it). */
export interface MetricsSource {
  health(): Record<string, unknown>;
  stageSnapshots(): StageSnapshot[];
}

const stageGauges: readonly [keyof StageSnapshot, string, string][] = [
  ["queueDepth", "stageraft_stage_queue_depth", "Items waiting in the stage's queue"],
  ["queueBytes", "stageraft_stage_queue_bytes", "Bytes waiting in the stage's queue"],
  ["accepted", "stageraft_stage_accepted_total", "Items the stage's queue accepted"],
  [
    "rejected",
    "stageraft_stage_rejected_total",
    "Items the stage's queue refused because it was full",
  ],
  ["processed", "stageraft_stage_processed_total", "Items the stage processed"],
  [
    "throughputPerSec",
    "stageraft_stage_throughput_per_second",
    "Items processed per second (sliding window)",
  ],
  ["waitMsP50", "stageraft_stage_wait_ms_p50", "Median queue wait (ms)"],
  ["waitMsP99", "stageraft_stage_wait_ms_p99", "99th percentile queue wait (ms)"],
  ["serviceMsP50", "stageraft_stage_service_ms_p50", "Median batch service time (ms)"],
  ["serviceMsP99", "stageraft_stage_service_ms_p99", "99th percentile batch service time (ms)"],
  ["batchSizeP50", "stageraft_stage_batch_size_p50", "Median batch size"],
  ["batchSizeP99", "stageraft_stage_batch_size_p99", "99th percentile batch size"],
  ["utilisation", "stageraft_stage_utilisation", "Fraction of time the stage was busy"],
];

/** Prometheus text exposition of the node's Raft state and every stage's metrics. */
export function renderMetrics(source: MetricsSource): string {
  const health = source.health();
  const lines: string[] = [];
  const raftGauges: [string, string, unknown][] = [
    ["stageraft_raft_term", "Current Raft term", health.term],
    ["stageraft_raft_commit_index", "Raft commit index", health.commitIndex],
    ["stageraft_raft_applied_index", "Index applied to the engines", health.appliedIndex],
    ["stageraft_raft_last_index", "Last index in the local log", health.lastIndex],
    ["stageraft_raft_is_leader", "1 if this node is the leader", health.role === "leader" ? 1 : 0],
  ];
  for (const [name, help, value] of raftGauges) {
    lines.push(
      `# HELP ${name} ${help}`,
      `# TYPE ${name} gauge`,
      `${name}{node="${health.name}"} ${Number(value)}`,
    );
  }
  const snapshots = source.stageSnapshots();
  for (const [field, name, help] of stageGauges) {
    lines.push(
      `# HELP ${name} ${help}`,
      `# TYPE ${name} ${name.endsWith("_total") ? "counter" : "gauge"}`,
    );
    for (const snapshot of snapshots) {
      lines.push(
        `${name}{node="${health.name}",stage="${snapshot.name}"} ${Number(snapshot[field]) || 0}`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}
