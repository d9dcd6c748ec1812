import { performance } from "node:perf_hooks";
import type { StageSnapshot } from "../../queues/mod.js";
import type { CoreView, MemberView } from "../../stages/raft-step/mod.js";

/**
 * What the dashboard and /metrics read from a running node. Getters only: everything is read
 * when asked (a scrape, a dashboard tick), nothing is pushed from the hot path.
 */
export interface NodeView {
  readonly name: string;
  /** The Raft core's state (with the workers pool: as of its last round). */
  readonly raft: { view(): CoreView; status(): CoreView["status"] };
  /** The five queue stages, in path order (raft-step … respond). */
  stages(): StageSnapshot[];
  ingress(): IngressCounters;
  wal(): WalCounters;
  apply(): ApplyCounters;
  /** null when the state machine runs in a worker thread (not reachable cheaply). */
  engines(): EnginesView | null;
  members(): MemberView[];
  links(): readonly PeerLink[];
}

export interface IngressCounters {
  readonly connections: number;
  readonly frames: number;
  readonly badFrames: number;
  readonly overloaded: number;
  readonly unauthorized: number;
  readonly peerFrames: number;
  readonly peerRejected: number;
}

export interface WalCounters {
  readonly groupCommits: number;
  readonly readies: number;
  readonly entries: number;
  readonly writes: number;
  readonly syncs: number;
  readonly sync: boolean;
}

export interface ApplyCounters {
  readonly applied: number;
  readonly answered: number;
  readonly reads: number;
  readonly readsRefused: number;
  readonly readsDropped: number;
  readonly timeouts: number;
  readonly snapshots: number;
}

export interface EnginesView {
  readonly kv: { readonly engine: string; readonly [stat: string]: number | string };
  readonly vectors: { readonly [stat: string]: number };
}

export interface PeerLink {
  readonly name: string;
  readonly address: string;
  readonly up: boolean;
  readonly dropped: number;
}

/** One box of the pipeline: a queue stage, or the synthesised ingress row (kind "ingress"). */
export interface StageRow extends StageSnapshot {
  readonly kind: "queue" | "ingress";
  /** queueDepth / queueCapacityItems, 0 without a queue. */
  readonly fill: number;
}

export interface FollowerProgress {
  readonly name: string;
  readonly state: string;
  readonly matchIndex: number;
  readonly nextIndex: number;
  /** The leader's last index minus the follower's match index. */
  readonly lag: number;
  readonly active: boolean;
}

export interface RaftView {
  readonly role: string;
  readonly term: number;
  readonly leader: string | null;
  readonly vote: string | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly firstIndex: number;
  readonly leadTransferee: string | null;
  /** History checksum at the applied index; null once compacted past it. */
  readonly checksum: number | null;
  readonly voters: readonly string[];
  readonly learners: readonly string[];
  readonly leaderChanges: number;
  /** Followers this node, as leader, found to have lost acknowledged entries (repaired). */
  readonly followersLostEntries: number;
  /** Nonzero while this node lost durable entries up to here (it does not vote meanwhile). */
  readonly catchUpIndex: number;
  /** Leader only. */
  readonly followers: readonly FollowerProgress[] | null;
}

/** Everything this node knows about itself, read at one instant. */
export interface LocalSnapshot {
  readonly node: string;
  readonly at: number;
  readonly uptimeSec: number;
  readonly eventLoopUtilisation: number;
  readonly stages: readonly StageRow[];
  readonly bottleneck: { readonly stage: string; readonly reason: string } | null;
  readonly raft: RaftView;
  readonly ingress: IngressCounters & { readonly framesPerSec: number };
  readonly wal: WalCounters;
  readonly apply: ApplyCounters;
  readonly engines: EnginesView | null;
  readonly links: readonly PeerLink[];
}

export interface MemberHealth {
  readonly name: string;
  readonly voter: boolean;
  readonly self: boolean;
  readonly client: string | null;
  readonly peer: string;
  /** up: its /health answered; down: it did not; unknown: no client address learned yet. */
  readonly status: "up" | "down" | "unknown";
  readonly error: string | null;
  readonly latencyMs: number | null;
  /** ms since this member's health was read (0 for this node). */
  readonly ageMs: number | null;
  readonly role: string | null;
  readonly term: number | null;
  readonly leader: string | null;
  readonly commitIndex: number | null;
  readonly appliedIndex: number | null;
  readonly lastIndex: number | null;
  /** Our peer link to it is connected (null for this node). */
  readonly link: boolean | null;
}

export interface DashboardSnapshot extends LocalSnapshot {
  readonly cluster: readonly MemberHealth[];
}

const rateWindowMs = 5_000;
const peerTimeoutMs = 800;
/** Readings younger than this are reused (several pages, or a page and a direct caller). */
const peerFreshMs = 500;

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

interface PeerReading {
  readonly at: number;
  readonly ok: boolean;
  readonly error: string | null;
  readonly latencyMs: number | null;
  readonly health: Record<string, unknown> | null;
}

/**
 * Turns a NodeView into snapshots for /dashboard and /metrics. The cluster view is fetched
 * server-side: the browser reaches one node, and that node asks its peers' /health (with a
 * short timeout, at most once a second, and only while someone is watching the dashboard).
 */
export class NodeObserver {
  private readonly frames = new RateMeter();
  private readonly startedAt = performance.now();
  private elu = performance.eventLoopUtilization();
  private eluAt = performance.now();
  private eluValue = 0;
  private lastLeader: string | null = null;
  private leaderChanges = 0;
  private readonly peers = new Map<string, PeerReading>();
  private peersReadAt = 0;
  private peersReading: Promise<void> | null = null;

  constructor(
    private readonly view: NodeView,
    private readonly fetchTimeoutMs = peerTimeoutMs,
  ) {
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
      rejected: ingress.overloaded,
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
        followers,
      },
      ingress: { ...ingress, framesPerSec },
      wal: this.view.wal(),
      apply: this.view.apply(),
      engines: this.view.engines(),
      links: this.view.links(),
    };
  }

  /**
   * The picture /dashboard/live pushes: every peer's /health is read first (in parallel, each
   * bounded by the fetch timeout), then this node's state, so that the two are of one moment.
   */
  async dashboardFresh(): Promise<DashboardSnapshot> {
    await this.readPeers(this.view.members());
    return this.compose(false);
  }

  /** The picture at once, with peers as last read (a new read starts if those are stale). */
  dashboard(): DashboardSnapshot {
    return this.compose(true);
  }

  private compose(refresh: boolean): DashboardSnapshot {
    const local = this.local();
    const members = this.view.members();
    if (refresh) void this.readPeers(members);
    const links = new Map(local.links.map((link) => [link.name, link.up]));
    const now = Date.now();
    const cluster = members.map((member): MemberHealth => {
      const self = member.name === this.view.name;
      if (self) {
        return {
          name: member.name,
          voter: member.voter,
          self,
          client: member.client,
          peer: member.peer,
          status: "up",
          error: null,
          latencyMs: 0,
          ageMs: 0,
          role: local.raft.role,
          term: local.raft.term,
          leader: local.raft.leader,
          commitIndex: local.raft.commitIndex,
          appliedIndex: local.raft.appliedIndex,
          lastIndex: local.raft.lastIndex,
          link: null,
        };
      }
      const reading = this.peers.get(member.name);
      const health = reading?.health ?? null;
      return {
        name: member.name,
        voter: member.voter,
        self,
        client: member.client,
        peer: member.peer,
        status:
          member.client === null || reading === undefined ? "unknown" : reading.ok ? "up" : "down",
        error:
          member.client === null
            ? "client address not learned yet"
            : reading === undefined
              ? "not checked yet"
              : reading.error,
        latencyMs: reading?.latencyMs ?? null,
        ageMs: reading ? now - reading.at : null,
        role: reading?.ok ? str(health?.role) : null,
        term: reading?.ok ? num(health?.term) : null,
        leader: reading?.ok ? str(health?.leader) : null,
        commitIndex: reading?.ok ? num(health?.commitIndex) : null,
        appliedIndex: reading?.ok ? num(health?.appliedIndex) : null,
        lastIndex: reading?.ok ? num(health?.lastIndex) : null,
        link: links.get(member.name) ?? null,
      };
    });
    return { ...local, cluster };
  }

  /** Reads every peer's /health; callers during a read share it; fresh readings are reused. */
  private readPeers(members: readonly MemberView[]): Promise<void> {
    if (this.peersReading !== null) return this.peersReading;
    if (Date.now() - this.peersReadAt < peerFreshMs) return Promise.resolve();
    const others = members.filter((m) => m.name !== this.view.name && m.client !== null);
    for (const name of [...this.peers.keys()])
      if (!others.some((m) => m.name === name)) this.peers.delete(name);
    this.peersReading = Promise.all(
      others.map(async (member) => {
        const reading = await this.readPeer(healthUrl(member.client!, member.peer));
        this.peers.set(member.name, reading);
      }),
    ).then(() => {
      this.peersReadAt = Date.now();
      this.peersReading = null;
    });
    return this.peersReading;
  }

  private async readPeer(url: string): Promise<PeerReading> {
    const started = performance.now();
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(this.fetchTimeoutMs) });
      // 503 is a node that answers but is not ready (CONTRACT §7): up, and its body says why.
      if (!response.ok && response.status !== 503) throw new Error(`HTTP ${response.status}`);
      const health = (await response.json()) as Record<string, unknown>;
      return {
        at: Date.now(),
        ok: true,
        error: null,
        latencyMs: performance.now() - started,
        health,
      };
    } catch (error) {
      const err = error as Error;
      const message =
        err.name === "TimeoutError"
          ? `no answer within ${this.fetchTimeoutMs} ms`
          : ((err.cause as Error | undefined)?.message ?? err.message);
      return { at: Date.now(), ok: false, error: message, latencyMs: null, health: null };
    }
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

/** A listen address of 0.0.0.0 or :: is not where to reach a peer: use its peer host then. */
export function healthUrl(client: string, peer: string): string {
  const colon = client.lastIndexOf(":");
  let host = client.slice(0, colon);
  const port = client.slice(colon + 1);
  if (host === "0.0.0.0" || host === "::" || host === "[::]" || host === "") {
    const peerColon = peer.lastIndexOf(":");
    host = peerColon > 0 ? peer.slice(0, peerColon) : "127.0.0.1";
  }
  if (host.includes(":") && !host.startsWith("[")) host = `[${host}]`;
  return `http://${host}:${port}/health`;
}

function str(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

function num(value: unknown): number | null {
  return typeof value === "number" ? value : null;
}
