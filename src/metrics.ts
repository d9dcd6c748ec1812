import { Counter, collectDefaultMetrics, Gauge, type LabelValues, Registry } from "prom-client";
import type { LocalSnapshot, StageRow } from "./dashboard/observer.js";

type Labels = LabelValues<string>;
type Put = (value: number, labels?: Labels) => void;
type Read = (snapshot: LocalSnapshot, put: Put) => void;

export interface NodeMetricsOptions {
  /** The `node` label on every series (default labels). */
  readonly node: string;
  /** prom-client's process and Node.js runtime metrics; defaults to true. */
  readonly defaultMetrics?: boolean;
}

const quantiles = [
  ["0.5", "P50"],
  ["0.99", "P99"],
] as const;

/**
 * /metrics for one node: a prom-client Registry whose collectors read the node's live values
 * at scrape time (one LocalSnapshot per scrape, shared by every collector). Names follow the
 * Prometheus conventions: prefix stageraft_, base units (seconds, bytes, items), _total for
 * counters. Queue series carry the five queue stages; ingress has no queue, so it appears only
 * in the throughput, accepted/rejected/processed/errors series (frames, overloaded, bad frames).
 */
export class NodeMetrics {
  readonly registry = new Registry();
  private scrape: LocalSnapshot | null = null;

  constructor(
    private readonly source: () => LocalSnapshot,
    options: NodeMetricsOptions,
  ) {
    this.registry.setDefaultLabels({ node: options.node });
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.defineStageMetrics();
    this.defineRaftMetrics();
    this.defineStorageMetrics(source());
    this.defineConnectionMetrics();
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

  private current(): LocalSnapshot {
    return this.scrape ?? this.source();
  }

  private gauge(name: string, help: string, labelNames: readonly string[], read: Read): void {
    const current = () => this.current();
    new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        read(current(), (value, labels) =>
          labels ? this.set(labels, finite(value)) : this.set(finite(value)),
        );
      },
    });
  }

  private counter(name: string, help: string, labelNames: readonly string[], read: Read): void {
    const current = () => this.current();
    new Counter({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        read(current(), (value, labels) =>
          labels ? this.inc(labels, finite(value)) : this.inc(finite(value)),
        );
      },
    });
  }

  private defineStageMetrics(): void {
    const queues = (s: LocalSnapshot) => s.stages.filter((row) => row.kind === "queue");
    const perStage =
      (rows: (s: LocalSnapshot) => readonly StageRow[], value: (row: StageRow) => number): Read =>
      (s, put) => {
        for (const row of rows(s)) put(value(row), { stage: row.name });
      };
    const all = (s: LocalSnapshot) => s.stages;
    const stage = ["stage"];
    this.gauge(
      "stageraft_stage_queue_items",
      "Items waiting in the stage's queue",
      stage,
      perStage(queues, (r) => r.queueDepth),
    );
    this.gauge(
      "stageraft_stage_queue_bytes",
      "Bytes waiting in the stage's queue",
      stage,
      perStage(queues, (r) => r.queueBytes),
    );
    this.gauge(
      "stageraft_stage_queue_capacity_items",
      "The bound of the stage's queue, in items",
      stage,
      perStage(queues, (r) => r.queueCapacityItems),
    );
    this.gauge(
      "stageraft_stage_queue_capacity_bytes",
      "The bound of the stage's queue, in bytes (absent when bounded by count alone)",
      stage,
      (s, put) => {
        for (const r of queues(s))
          if (r.queueCapacityBytes !== null) put(r.queueCapacityBytes, { stage: r.name });
      },
    );
    this.counter(
      "stageraft_stage_accepted_total",
      "Items the stage took in (ingress: client frames)",
      stage,
      perStage(all, (r) => r.accepted),
    );
    this.counter(
      "stageraft_stage_rejected_total",
      "Items the stage refused because it was full (ingress: OVERLOADED answers and dropped peer messages)",
      stage,
      perStage(all, (r) => r.rejected),
    );
    this.counter(
      "stageraft_stage_processed_total",
      "Items the stage processed (ingress: client frames)",
      stage,
      perStage(all, (r) => r.processed),
    );
    this.counter(
      "stageraft_stage_errors_total",
      "Batches whose handler failed (ingress: bad client frames)",
      stage,
      perStage(all, (r) => r.errors),
    );
    this.counter(
      "stageraft_stage_batches_total",
      "Batches the stage ran",
      stage,
      perStage(queues, (r) => r.batches),
    );
    this.gauge(
      "stageraft_stage_throughput_items_per_second",
      "Items processed per second over the last 5 s (ingress: client frames per second)",
      stage,
      perStage(all, (r) => r.throughputPerSec),
    );
    const withQuantiles =
      (field: "waitMs" | "serviceMs" | "batchSize", scale: number): Read =>
      (s, put) => {
        for (const r of queues(s))
          for (const [quantile, suffix] of quantiles)
            put(r[`${field}${suffix}`] / scale, { stage: r.name, quantile });
      };
    const stageQuantile = ["stage", "quantile"];
    this.gauge(
      "stageraft_stage_wait_seconds",
      "Time items waited in the stage's queue, recent quantiles",
      stageQuantile,
      withQuantiles("waitMs", 1_000),
    );
    this.gauge(
      "stageraft_stage_service_seconds",
      "Time the stage spent on one batch, recent quantiles",
      stageQuantile,
      withQuantiles("serviceMs", 1_000),
    );
    this.gauge(
      "stageraft_stage_batch_items",
      "Items per batch, recent quantiles",
      stageQuantile,
      withQuantiles("batchSize", 1),
    );
    this.gauge(
      "stageraft_stage_batch_limit_items",
      "The most items the stage's next batch may take",
      stage,
      perStage(queues, (r) => r.batchLimit),
    );
    this.gauge(
      "stageraft_stage_utilisation_ratio",
      "Fraction of the last 5 s the stage was busy (0-1, per unit of concurrency)",
      stage,
      perStage(queues, (r) => r.utilisation),
    );
  }

  private defineRaftMetrics(): void {
    const raft = (
      name: string,
      help: string,
      value: (s: LocalSnapshot) => number,
      kind: "gauge" | "counter" = "gauge",
    ) => this[kind](name, help, [], (s, put) => put(value(s)));
    raft("stageraft_raft_term", "Current Raft term", (s) => s.raft.term);
    raft(
      "stageraft_raft_commit_index",
      "Highest log index known committed",
      (s) => s.raft.commitIndex,
    );
    raft(
      "stageraft_raft_applied_index",
      "Highest log index applied to the engines",
      (s) => s.raft.appliedIndex,
    );
    raft("stageraft_raft_last_index", "Last index in the local log", (s) => s.raft.lastIndex);
    raft(
      "stageraft_raft_first_index",
      "First index still in the local log",
      (s) => s.raft.firstIndex,
    );
    raft("stageraft_raft_is_leader", "1 if this node is the leader", (s) =>
      s.raft.role === "leader" ? 1 : 0,
    );
    raft("stageraft_raft_has_leader", "1 if this node knows a leader", (s) =>
      s.raft.leader === null ? 0 : 1,
    );
    raft(
      "stageraft_raft_followers_lost_entries_total",
      "Times this node, as leader, found a follower holding fewer entries than it had acknowledged (its storage lost them); each is repaired by probing",
      (s) => s.raft.followersLostEntries,
      "counter",
    );
    raft(
      "stageraft_raft_catch_up_index",
      "Nonzero while this node's storage lost durable entries up to this index: it neither votes nor campaigns until it holds them again",
      (s) => s.raft.catchUpIndex,
    );
    raft(
      "stageraft_raft_leader_changes_seen_total",
      "Times this node saw a new leader since it started",
      (s) => s.raft.leaderChanges,
      "counter",
    );
    raft(
      "stageraft_raft_voters",
      "Voting members in the current configuration",
      (s) => s.raft.voters.length,
    );
    raft(
      "stageraft_raft_learners",
      "Learners in the current configuration",
      (s) => s.raft.learners.length,
    );
    this.gauge(
      "stageraft_raft_follower_match_index",
      "Highest index known replicated on each follower (leader only)",
      ["follower"],
      (s, put) => {
        for (const f of s.raft.followers ?? []) put(f.matchIndex, { follower: f.name });
      },
    );
    this.gauge(
      "stageraft_raft_follower_lag_entries",
      "Entries the leader holds that each follower has not acknowledged (leader only)",
      ["follower"],
      (s, put) => {
        for (const f of s.raft.followers ?? []) put(f.lag, { follower: f.name });
      },
    );
  }

  /** Engine series exist only where the engines are reachable (not in a worker thread). */
  private defineStorageMetrics(first: LocalSnapshot): void {
    const plain = (
      kind: "gauge" | "counter",
      name: string,
      help: string,
      value: (s: LocalSnapshot) => number | undefined,
    ) =>
      this[kind](name, help, [], (s, put) => {
        const v = value(s);
        if (v !== undefined) put(v);
      });
    plain(
      "counter",
      "stageraft_wal_group_commits_total",
      "WAL group commits (one batch write each)",
      (s) => s.wal.groupCommits,
    );
    plain("counter", "stageraft_wal_writes_total", "Batch writes to the WAL", (s) => s.wal.writes);
    plain("counter", "stageraft_wal_fsyncs_total", "Synced (fsync) WAL writes", (s) => s.wal.syncs);
    plain(
      "counter",
      "stageraft_wal_readies_total",
      "Raft Readys made durable",
      (s) => s.wal.readies,
    );
    plain(
      "counter",
      "stageraft_wal_entries_total",
      "Log entries written to the WAL",
      (s) => s.wal.entries,
    );
    plain(
      "counter",
      "stageraft_apply_entries_total",
      "Committed entries applied",
      (s) => s.apply.applied,
    );
    plain(
      "counter",
      "stageraft_apply_reads_total",
      "Reads answered by the apply stage",
      (s) => s.apply.reads,
    );
    plain(
      "counter",
      "stageraft_apply_reads_refused_total",
      "Reads answered OVERLOADED unserved: their connection had too many replies unread",
      (s) => s.apply.readsRefused,
    );
    plain(
      "counter",
      "stageraft_apply_reads_dropped_total",
      "Reads not served because their connection had closed",
      (s) => s.apply.readsDropped,
    );
    plain(
      "counter",
      "stageraft_apply_timeouts_total",
      "Requests that timed out waiting to apply",
      (s) => s.apply.timeouts,
    );
    plain(
      "counter",
      "stageraft_snapshots_taken_total",
      "Snapshots this node took",
      (s) => s.apply.snapshots,
    );
    const kv = (s: LocalSnapshot, stat: string) => {
      const value = s.engines?.kv[stat];
      return typeof value === "number" ? value : undefined;
    };
    const has = (stat: string) => kv(first, stat) !== undefined;
    if (has("appliedIndex"))
      plain("gauge", "stageraft_kv_applied_index", "Index the KV engine has applied", (s) =>
        kv(s, "appliedIndex"),
      );
    if (has("keys"))
      plain("gauge", "stageraft_kv_keys", "Keys in the KV engine", (s) => kv(s, "keys"));
    if (has("commandsApplied"))
      plain(
        "counter",
        "stageraft_kv_commands_applied_total",
        "Commands the KV engine applied",
        (s) => kv(s, "commandsApplied"),
      );
    if (first.engines !== null) {
      plain(
        "gauge",
        "stageraft_vector_collections",
        "Vector collections",
        (s) => s.engines?.vectors.collections,
      );
      plain(
        "gauge",
        "stageraft_vector_vectors",
        "Vectors in every collection",
        (s) => s.engines?.vectors.vectors,
      );
    }
  }

  private defineConnectionMetrics(): void {
    const plain = (
      kind: "gauge" | "counter",
      name: string,
      help: string,
      value: (s: LocalSnapshot) => number,
    ) => this[kind](name, help, [], (s, put) => put(value(s)));
    plain(
      "gauge",
      "stageraft_client_connections",
      "Open client WebSocket connections",
      (s) => s.ingress.connections,
    );
    plain(
      "counter",
      "stageraft_client_frames_total",
      "Client frames received",
      (s) => s.ingress.frames,
    );
    plain(
      "counter",
      "stageraft_client_bad_frames_total",
      "Client frames refused as malformed (BAD_REQUEST)",
      (s) => s.ingress.badFrames,
    );
    plain(
      "counter",
      "stageraft_client_overloaded_total",
      "Requests refused with OVERLOADED, plus peer messages dropped at a full queue",
      (s) => s.ingress.overloaded,
    );
    plain(
      "counter",
      "stageraft_client_unauthorized_total",
      "Connections refused for a missing or wrong token",
      (s) => s.ingress.unauthorized,
    );
    plain(
      "counter",
      "stageraft_peer_frames_total",
      "Frames received from peers",
      (s) => s.ingress.peerFrames,
    );
    plain(
      "counter",
      "stageraft_peer_rejected_total",
      "Peer connections refused (a bad hello, a bad frame, no hello in time)",
      (s) => s.ingress.peerRejected,
    );
    this.gauge(
      "stageraft_peer_link_up",
      "1 while the outgoing link to a peer is connected",
      ["peer"],
      (s, put) => {
        for (const link of s.links) put(link.up ? 1 : 0, { peer: link.name });
      },
    );
    this.counter(
      "stageraft_peer_dropped_total",
      "Messages dropped on the link to a peer",
      ["peer"],
      (s, put) => {
        for (const link of s.links) put(link.dropped, { peer: link.name });
      },
    );
    plain(
      "gauge",
      "stageraft_event_loop_utilisation_ratio",
      "Fraction of time the main event loop was busy (recent)",
      (s) => s.eventLoopUtilisation,
    );
  }
}

function finite(value: number): number {
  return Number.isFinite(value) ? value : 0;
}
