/** Names of Raft nodes: stable, unique within a cluster. */
export type NodeId = string;
/** Several Raft groups may run on one node; every message names its group. */
export type GroupId = number;

export const EntryType = { normal: 0, config: 1 } as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

/** A log entry. A no-op is a normal entry with empty data. */
export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
  /** History checksum: crc32c(chk of index-1, term, index, type, data). */
  readonly chk: number;
}

/** What must be durable before a node answers anyone: Figure 2's persistent state. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId | null;
  readonly commit: number;
}

/**
 * A membership configuration. `outgoing` is non-empty only in joint consensus
 * (C_old,new): then decisions need a majority of `voters` and of `outgoing`.
 * Invariant: learners are disjoint from voters and outgoing.
 */
export interface MembershipConfig {
  readonly voters: readonly NodeId[];
  readonly outgoing: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/** The data of a config entry: the configuration it installs, plus opaque application context. */
export interface ConfigEntryData {
  readonly config: MembershipConfig;
  readonly context: string;
}

export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  /** Chain checksum at `index`. */
  readonly chk: number;
  /** The configuration in effect at `index`. */
  readonly config: MembershipConfig;
  /** The application context of that configuration (opaque to the core; absent: none). */
  readonly configContext?: string;
  /** Size of the snapshot's data in bytes, chunked by InstallSnapshot. */
  readonly size: number;
}

export type Role = "follower" | "precandidate" | "candidate" | "leader";

interface MessageBase {
  readonly group: GroupId;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
}

/** RequestVote; with `pre` it is a pre-vote that changes no one's term. */
export interface VoteRequest extends MessageBase {
  readonly type: "vote";
  readonly pre: boolean;
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
  /** Set by a leadership-transfer candidate: voters ignore their leader lease. */
  readonly transfer: boolean;
}

export interface VoteResponse extends MessageBase {
  readonly type: "voteResp";
  readonly pre: boolean;
  readonly granted: boolean;
}

export interface AppendEntries extends MessageBase {
  readonly type: "append";
  readonly prevLogIndex: number;
  readonly prevLogTerm: number;
  readonly entries: readonly Entry[];
  readonly leaderCommit: number;
  /** The leader's tick when it sent this; echoed for the leader lease. */
  readonly sentTick: number;
}

/**
 * Success: `index` is the follower's matchIndex. Rejection: `index` is the rejected
 * prevLogIndex and (hintIndex, hintTerm) say where the logs may agree (fast backtracking).
 */
export interface AppendResponse extends MessageBase {
  readonly type: "appendResp";
  readonly reject: boolean;
  readonly index: number;
  readonly hintIndex: number;
  readonly hintTerm: number;
  readonly sentTick: number;
}

export interface Heartbeat extends MessageBase {
  readonly type: "heartbeat";
  /** min(commitIndex, the follower's matchIndex): never past what the follower holds. */
  readonly leaderCommit: number;
  /** Highest ReadIndex round this heartbeat confirms. */
  readonly readSeq: number;
  readonly sentTick: number;
}

export interface HeartbeatResponse extends MessageBase {
  readonly type: "heartbeatResp";
  readonly readSeq: number;
  readonly sentTick: number;
}

/**
 * One chunk of InstallSnapshot. The core decides offsets and lengths; the transport attaches
 * `data`: bytes [offset, offset + length) of the snapshot at meta.index (dropping the message
 * if that snapshot is gone: the leader resends with its newer one).
 */
export interface InstallSnapshot extends MessageBase {
  readonly type: "snapshot";
  readonly meta: SnapshotMeta;
  readonly offset: number;
  readonly length: number;
  readonly done: boolean;
  data: Uint8Array;
}

export interface SnapshotResponse extends MessageBase {
  readonly type: "snapshotResp";
  readonly snapshotIndex: number;
  /** The offset the follower expects next. */
  readonly nextOffset: number;
  readonly reject: boolean;
}

/** Leadership transfer: the target starts an election at once. */
export interface TimeoutNow extends MessageBase {
  readonly type: "timeoutNow";
}

/** A follower asks the leader for a read index on behalf of its client. */
export interface ReadIndexRequest extends MessageBase {
  readonly type: "readIndex";
  readonly ctx: string;
}

export interface ReadIndexResponse extends MessageBase {
  readonly type: "readIndexResp";
  readonly ctx: string;
  readonly ok: boolean;
  readonly index: number;
}

export type Message =
  | VoteRequest
  | VoteResponse
  | AppendEntries
  | AppendResponse
  | Heartbeat
  | HeartbeatResponse
  | InstallSnapshot
  | SnapshotResponse
  | TimeoutNow
  | ReadIndexRequest
  | ReadIndexResponse;

export type MessageType = Message["type"];

/** A read that is now safe once appliedIndex >= index; ok=false means it failed (no leader). */
export interface ReadState {
  readonly ctx: string;
  readonly ok: boolean;
  readonly index: number;
}

export interface SnapshotChunk {
  readonly meta: SnapshotMeta;
  readonly offset: number;
  readonly data: Uint8Array;
  readonly done: boolean;
}

export interface SoftState {
  readonly role: Role;
  readonly leader: NodeId | null;
  readonly term: number;
}

/**
 * Everything the core hands back in one batch. The owner, in order:
 * 1. sends `messages` at once (the leader's appends go out in parallel with its own write);
 * 2. persists `snapshotChunks`, then `snapshot` (replacing the whole log), then `hardState`
 *    and `entries` (an entry overwrites the stored suffix from its index) — durably;
 * 3. sends `persistedMessages` (acks and votes that promise durable state);
 * 4. calls advance(ready); batches must be persisted and advanced in the order handed out;
 * 5. applies `committed` in order and reports appliedTo(); serves `readStates`.
 */
export interface Ready {
  readonly softState: SoftState | null;
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
  readonly snapshot: SnapshotMeta | null;
  readonly snapshotChunks: readonly SnapshotChunk[];
  readonly messages: readonly Message[];
  readonly persistedMessages: readonly Message[];
  readonly committed: readonly Entry[];
  readonly readStates: readonly ReadState[];
}

/** What a node finds in its storage at start. */
export interface RestoredState {
  readonly hardState: HardState;
  readonly snapshot: SnapshotMeta | null;
  /** Contiguous entries; the first may be at or before snapshot.index + 1. */
  readonly entries: readonly Entry[];
  /** Index the state machine already holds (at least snapshot.index). */
  readonly applied: number;
}

/** A follower found to hold fewer entries than it had acknowledged (its storage lost them). */
export interface LostEntries {
  readonly peer: NodeId;
  /** What the leader had counted it as holding. */
  readonly matchIndex: number;
  /** Where the follower's log agrees with the leader's now. */
  readonly lastIndex: number;
}

export type ProposeResult =
  | { readonly ok: true; readonly index: number; readonly term: number }
  | { readonly ok: false; readonly reason: ProposeRefusal; readonly leader: NodeId | null };

export type ProposeRefusal =
  | "not-leader"
  | "transferring"
  | "too-large"
  | "config-pending"
  | "config-invalid"
  | "learner-behind";

export type ConfigChange =
  | { readonly type: "addVoter"; readonly node: NodeId }
  | { readonly type: "addLearner"; readonly node: NodeId }
  | { readonly type: "remove"; readonly node: NodeId };
