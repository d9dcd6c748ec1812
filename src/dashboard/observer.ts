import { performance } from "node:perf_hooks";
import { ClusterHealth } from "./cluster.js";
import { DashboardHistory, type HistoryView } from "./history.js";
import type { DashboardSnapshot, LocalSnapshot, NodeView, StageRow } from "./view.js";

export { healthUrl } from "./cluster.js";
export type { HistoryView } from "./history.js";
export type {
  ApplyCounters,
  DashboardSnapshot,
  EnginesView,
  FollowerProgress,
  IngressCounters,
  LocalSnapshot,
  Marker,
  MemberHealth,
  NodeView,
  PeerLink,
  RaftView,
  StageRow,
  WalCounters,
} from "./view.js";

const rateWindowMs = 5_000;

/** Per-second rate of a monotonic counter over about the last five seconds. */
export class RateMeter {
  private readonly samples: { t: number; v: number }[] = [];

  rate(now: number, value: number): number {
    const last = this.samples.at(-1);
    if (last === undefined || now - last.t >= 200) this.samples.push({ t: now, v: value });
    // Keep the newest sample older than the window as the base.
    while (this.samples.length > 2 && now - this.samples[1]!.t >= rateWindowMs)
      this.samples.shift();
    const base = this.samples[0]!;
    const span = now - base.t;
    return span > 0 ? Math.max(0, ((value - base.v) * 1_000) / span) : 0;
  }
}

/**
 * Turns a NodeView into snapshots for /dashboard and /metrics. The cluster view is fetched
 * server-side (cluster.ts); the charts' last minutes are kept here too (history.ts).
 */
export class NodeObserver {
  private readonly frames = new RateMeter();
  private readonly startedAt = performance.now();
  private elu = performance.eventLoopUtilization();
  private eluAt = performance.now();
  private eluValue = 0;
  private lastLeader: string | null = null;
  private leaderChanges = 0;
  private readonly cluster: ClusterHealth;
  private readonly history = new DashboardHistory();

  constructor(private readonly view: NodeView) {
    this.cluster = new ClusterHealth(view.name);
    this.observeLeader();
  }

  /** Counts leader changes; called after each raft-step batch and at every snapshot. */
  observeLeader(): void {
    const leader = this.view.raft.status().leader;
    if (leader !== this.lastLeader) {
      if (leader !== null) this.leaderChanges++;
      this.lastLeader = leader;
    }
  }

  local(): LocalSnapshot {
    this.observeLeader();
    const now = performance.now();
    const core = this.view.raft.view();
    const ingress = this.view.ingress();
    const framesPerSec = this.frames.rate(now, ingress.frames);
    const queues: StageRow[] = this.view.stages().map((s) => ({
      ...s,
      kind: "queue",
      fill: s.queueCapacityItems > 0 ? s.queueDepth / s.queueCapacityItems : 0,
    }));
    const ingressRow: StageRow = {
      kind: "ingress",
      name: "ingress",
      poolKind: "inline",
      poolSize: 1,
      queueDepth: 0,
      queueBytes: 0,
      queueCapacityItems: 0,
      queueCapacityBytes: null,
      fill: 0,
      accepted: ingress.frames,
      // Refused at the door: OVERLOADED answers and peer messages dropped at a full queue.
      rejected: ingress.overloaded + ingress.peerDropped,
      processed: ingress.frames,
      batches: ingress.frames,
      errors: ingress.badFrames,
      throughputPerSec: framesPerSec,
      waitMsP50: 0,
      waitMsP99: 0,
      serviceMsP50: 0,
      serviceMsP99: 0,
      batchSizeP50: 0,
      batchSizeP99: 0,
      percentileSamples: 0,
      percentileWindowMs: 0,
      batchLimit: 1,
      utilisation: 0,
    };
    const stages = [ingressRow, ...queues];
    const { status } = core;
    const followers =
      core.followers
        ?.map((f) => ({ ...f, lag: Math.max(0, status.lastIndex - f.matchIndex) }))
        .sort((a, b) => (a.name < b.name ? -1 : 1)) ?? null;
    if (now - this.eluAt >= 500) {
      const current = performance.eventLoopUtilization();
      this.eluValue = performance.eventLoopUtilization(current, this.elu).utilization;
      this.elu = current;
      this.eluAt = now;
    }
    return {
      node: this.view.name,
      at: Date.now(),
      uptimeSec: (now - this.startedAt) / 1_000,
      eventLoopUtilisation: this.eluValue,
      stages,
      bottleneck: bottleneckOf(queues),
      raft: {
        role: status.role,
        term: status.term,
        leader: status.leader,
        vote: status.vote,
        commitIndex: status.commitIndex,
        appliedIndex: status.appliedIndex,
        lastIndex: status.lastIndex,
        firstIndex: status.firstIndex,
        leadTransferee: status.leadTransferee,
        checksum: core.checksumApplied,
        voters: [...status.config.voters, ...status.config.outgoing].filter(
          (name, k, all) => all.indexOf(name) === k,
        ),
        learners: [...status.config.learners],
        leaderChanges: this.leaderChanges,
        followersLostEntries: status.followersLostEntries,
        catchUpIndex: status.catchUpIndex,
        elections: status.elections,
        followers,
      },
      ingress: { ...ingress, framesPerSec },
      wal: this.view.wal(),
      apply: this.view.apply(),
      ...(this.view.raftStep ? { raftStep: this.view.raftStep() } : {}),
      engines: this.view.engines(),
      links: this.view.links(),
    };
  }

  /**
   * The picture /dashboard/live pushes: every peer's /health is read first (in parallel, each
   * bounded by the fetch timeout), then this node's state, so that the two are of one moment.
   */
  async dashboardFresh(): Promise<DashboardSnapshot> {
    await this.cluster.read(this.view.members());
    return this.compose(false);
  }

  /** The picture at once, with peers as last read (a new read starts if those are stale). */
  dashboard(): DashboardSnapshot {
    return this.compose(true);
  }

  private compose(refresh: boolean): DashboardSnapshot {
    const local = this.local();
    const members = this.view.members();
    if (refresh) void this.cluster.read(members);
    return {
      ...local,
      cluster: this.cluster.members(local, members),
      markers: this.history.recentMarkers(),
    };
  }

  /** One point of the charts' server-side history; called once a second, watched or not. */
  sample(): void {
    this.history.record(this.local());
  }

  /** What a page that opens now draws first: the last minutes and their events. */
  historyView(): HistoryView {
    return this.history.view();
  }
}

/** Below this, no stage is called a bottleneck: an idle node has none. */
export const bottleneckFloor = 0.05;

/** The busiest stage: highest utilisation or fullest queue (whichever is higher), if any. */
export function bottleneckOf(
  stages: readonly StageRow[],
): { stage: string; reason: string } | null {
  let best: { stage: string; reason: string; score: number } | null = null;
  for (const s of stages) {
    const byQueue = s.fill > s.utilisation;
    const score = Math.max(s.fill, s.utilisation);
    if (score >= bottleneckFloor && (best === null || score > best.score)) {
      best = {
        stage: s.name,
        reason: byQueue
          ? `queue ${Math.round(s.fill * 100)}% full`
          : `${Math.round(s.utilisation * 100)}% busy`,
        score,
      };
    }
  }
  return best && { stage: best.stage, reason: best.reason };
}
