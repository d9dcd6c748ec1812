import { assert } from "./assert.js";
import type { RaftConfig } from "./config.js";
import {
  type CampaignKind,
  type ElectionCounts,
  type ElectionReason,
  RaftCore,
  type ReadMode,
  type RoleTable,
} from "./core.js";
import {
  campaign,
  handleVoteRequest,
  peerUnreachable,
  rejectStaleTerm,
  stepCandidate,
  tickElection,
} from "./election.js";
import { stepFollower } from "./follower.js";
import { abandonLeadership, startLeading, stepLeader, tickLeader } from "./leader.js";
import type { ReadonlyRaftLog } from "./log.js";
import type { ReadonlyMembershipLog } from "./membership.js";
import type { ProgressView } from "./progress.js";
import { learnerCaughtUp, propose, proposeConfigChange, transferLeadership } from "./proposals.js";
import type { RandomSource } from "./rand.js";
import { leaseValid, readIndex } from "./reads.js";
import { advance, appliedTo, hasReady, ready } from "./ready.js";
import { compact } from "./snapshot.js";
import type {
  ConfigChange,
  LostEntries,
  MembershipConfig,
  Message,
  NodeId,
  ProposeResult,
  Ready,
  RestoredState,
  Role,
  SnapshotMeta,
} from "./types.js";

export type { CampaignKind, ElectionCounts, ElectionReason, ReadMode } from "./core.js";

/** Each role's step and tick, swapped on every transition (etcd raft.go becomeFollower). */
const roles: RoleTable = {
  follower: { step: stepFollower, tick: tickElection },
  candidate: { step: stepCandidate, tick: tickElection },
  leader: { step: stepLeader, tick: tickLeader, enter: startLeading, leave: abandonLeadership },
};

/**
 * One Raft peer of one group: a pure, synchronous state machine. Inputs are tick(), step(),
 * propose*(), readIndex(), transferLeadership() and compact(); the output is ready(), which
 * the owner persists and acknowledges with advance(). No I/O, no clock, no Math.random.
 *
 * A facade: the state lives in a private RaftCore and the work in one file per role
 * (election, follower, leader, snapshot, proposals, reads, ready). Observe it through
 * status(); the read-only accessors at the end serve the owner's views.
 */
export class RaftNode {
  readonly id: NodeId;
  readonly config: RaftConfig;
  private readonly core: RaftCore;

  constructor(config: RaftConfig, random: RandomSource, restored?: RestoredState) {
    this.core = new RaftCore(config, random, roles, restored);
    this.id = config.id;
    this.config = config;
  }

  // ---------------------------------------------------------------- inputs

  /** One unit of time; the role's tick (election timer, or heartbeats and check-quorum). */
  tick(): void {
    const r = this.core;
    r.tickCount++;
    r.ticksSinceLeaderContact++;
    r.tickFn(r);
  }

  /** A message from a peer: the term is handled here once, then the role steps it. */
  step(m: Message): void {
    const r = this.core;
    assert(m.group === r.config.group, `step: message for group ${m.group}`);
    assert(m.to === r.id, `step: message for ${m.to} delivered to ${r.id}`);
    if (m.term > r.term) {
      if (m.type === "vote" && !m.transfer && r.inLeaderLease()) return;
      if (m.type === "vote" && m.pre) {
        // A pre-vote changes no one's term.
      } else if (m.type === "voteResp" && m.pre && m.granted) {
        // It carries the term we would campaign in; ours moves only if we win.
      } else if (m.type === "append" || m.type === "heartbeat" || m.type === "snapshot") {
        r.becomeFollower(m.term, m.from);
      } else {
        r.becomeFollower(m.term, null);
      }
    } else if (m.term < r.term) {
      rejectStaleTerm(r, m);
      return;
    }
    if (m.type === "vote") {
      handleVoteRequest(r, m);
      return;
    }
    r.stepFn(r, m);
  }

  /**
   * The owner's transport found `id`'s process gone (its link closed and a reconnect was
   * refused): a follower of `id` campaigns within a tick or two (election.ts).
   */
  peerUnreachable(id: NodeId): void {
    peerUnreachable(this.core, id);
  }

  /** Start an election now (tests, and the owner's explicit campaign). */
  campaign(kind: CampaignKind): void {
    campaign(this.core, kind);
  }

  propose(data: Uint8Array): ProposeResult {
    return propose(this.core, data);
  }

  /** Joint consensus (thesis §4.3); see proposals.ts. */
  proposeConfigChange(changes: readonly ConfigChange[], context = ""): ProposeResult {
    return proposeConfigChange(this.core, changes, context);
  }

  /** Leadership transfer (thesis §3.10): catch `to` up, then TimeoutNow; abandoned after ET. */
  transferLeadership(to: NodeId): ProposeResult {
    return transferLeadership(this.core, to);
  }

  /** The answer arrives in Ready.readStates under `ctx`; a follower forwards to its leader. */
  readIndex(ctx: string, mode: ReadMode = "linearizable"): void {
    readIndex(this.core, ctx, mode);
  }

  /** The owner snapshotted its state machine up to `index`: compact the log. */
  compact(index: number, size: number, retainEntries = 0): SnapshotMeta {
    return compact(this.core, index, size, retainEntries);
  }

  // ---------------------------------------------------------------- output

  hasReady(): boolean {
    return hasReady(this.core);
  }

  ready(): Ready {
    return ready(this.core);
  }

  /** The owner made `ready` durable. Acks carry (index, term): a replaced entry's ack is void. */
  advance(ready: Ready): void {
    advance(this.core, ready);
  }

  /** The owner applied committed entries up to `index`. */
  appliedTo(index: number): void {
    appliedTo(this.core, index);
  }

  // ---------------------------------------------------------------- observation

  /** A learner within learnerCatchUpEntries, replicating: it may be promoted. */
  learnerCaughtUp(id: NodeId): boolean {
    return learnerCaughtUp(this.core, id);
  }

  /** The leader lease holds: a lease read may be answered without a round trip. */
  leaseValid(): boolean {
    return leaseValid(this.core);
  }

  /** Chain checksum at `index`, if still in the log (or at its base). */
  checksumAt(index: number): number | undefined {
    return this.core.log.chk(index);
  }

  status(): RaftStatus {
    const r = this.core;
    return {
      id: r.id,
      group: r.config.group,
      role: r.role,
      term: r.term,
      leader: r.leader,
      vote: r.vote,
      commitIndex: r.commitIndex,
      appliedIndex: r.appliedIndex,
      lastIndex: r.log.lastIndex(),
      firstIndex: r.log.firstIndex,
      config: r.membership.current(),
      leadTransferee: r.leadTransferee,
      followersLostEntries: r.followersLostEntries,
      lastLostEntries: r.lastLostEntries,
      catchUpIndex: r.catchingUp() ? r.catchUpIndex : 0,
      elections: { ...r.elections },
      lastElectionReason: r.lastElectionReason,
    };
  }

  // Read-only accessors, no setters: the core's state changes only through the inputs above.
  // Scalars are read through status(); role..lastLostEntries below remain only for
  // stages/raft-core.ts (left untouched while stages/ moves into folders) and go with it.
  // log, membership and progress are read-only views (remu, tests, the dashboard).
  get role(): Role {
    return this.core.role;
  }
  get term(): number {
    return this.core.term;
  }
  get vote(): NodeId | null {
    return this.core.vote;
  }
  get leader(): NodeId | null {
    return this.core.leader;
  }
  get commitIndex(): number {
    return this.core.commitIndex;
  }
  get appliedIndex(): number {
    return this.core.appliedIndex;
  }
  get tickCount(): number {
    return this.core.tickCount;
  }
  get leadTransferee(): NodeId | null {
    return this.core.leadTransferee;
  }
  get snapshotMeta(): SnapshotMeta | null {
    return this.core.snapshotMeta;
  }
  get followersLostEntries(): number {
    return this.core.followersLostEntries;
  }
  get lastLostEntries(): LostEntries | null {
    return this.core.lastLostEntries;
  }
  get log(): ReadonlyRaftLog {
    return this.core.log;
  }
  get membership(): ReadonlyMembershipLog {
    return this.core.membership;
  }
  get progress(): ReadonlyMap<NodeId, ProgressView> {
    return this.core.progress;
  }
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly group: number;
  readonly role: Role;
  readonly term: number;
  readonly leader: NodeId | null;
  readonly vote: NodeId | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly firstIndex: number;
  readonly config: MembershipConfig;
  readonly leadTransferee: NodeId | null;
  /** Followers found (as leader) to have lost acknowledged entries, and the latest one. */
  readonly followersLostEntries: number;
  readonly lastLostEntries: LostEntries | null;
  /** Nonzero while this node lost durable entries up to here: it neither votes nor campaigns. */
  readonly catchUpIndex: number;
  /** Elections this node started since it started, by reason; and the latest one's reason. */
  readonly elections: ElectionCounts;
  readonly lastElectionReason: ElectionReason | null;
}
