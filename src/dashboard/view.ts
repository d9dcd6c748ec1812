import type { StageSnapshot } from "../../queues/mod.js";
import type { ElectionCounts } from "../../raft/mod.js";
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
  /** raft-step's bounded queues and tables (docs/queues.md). */
  raftStep?(): RaftStepQueues;
  /** null when the state machine runs in a worker thread (not reachable cheaply). */
  engines(): EnginesView | null;
  members(): MemberView[];
  links(): readonly PeerLink[];
}

export interface IngressCounters {
  readonly connections: number;
  readonly frames: number;
  readonly badFrames: number;
  /** Client requests answered OVERLOADED (on this node's port or forwarded to it). */
  readonly overloaded: number;
  /** Raft messages from peers dropped because raft-step's queue was full. */
  readonly peerDropped: number;
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
  /** Reads refused OVERLOADED: the reads waiting for their index were at their bound. */
  readonly readsWaitFull: number;
  /** Reads waiting now for the applied index to reach theirs. */
  readonly readsWaiting: number;
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
  /** Elections this node started, by reason (raft/ RaftStatus.elections). */
  readonly elections: ElectionCounts;
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
  readonly raftStep?: RaftStepQueues;
  readonly engines: EnginesView | null;
  readonly links: readonly PeerLink[];
}

/** What raft-step's bounded queues and tables hold now. */
export interface RaftStepQueues {
  /** Reads waiting for the core to confirm their read index. */
  readonly readIndexWaiting: number;
  /** Requests forwarded to the leader, waiting for its answer. */
  readonly forwardsWaiting: number;
  /** Readys handed to wal-append and not yet durable. */
  readonly readiesInWal: number;
  /** Waiters and Readys waiting for room in wal-append or apply. */
  readonly outboxItems: number;
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
  /** Events of the charts' span (snapshots, elections, membership changes), oldest first. */
  readonly markers: readonly Marker[];
}

export type MarkerKind = "snapshot" | "election" | "membership";

/** An event drawn on the charts as a vertical line. */
export interface Marker {
  /** Unix ms. */
  readonly at: number;
  readonly kind: MarkerKind;
  readonly text: string;
}
