import { assert } from "./assert.js";
import { assertValidMembership, type RaftConfig, validateRaftConfig } from "./config.js";
import { RaftLog } from "./log.js";
import { decodeConfigEntry, MembershipLog } from "./membership.js";
import type { Progress } from "./progress.js";
import { isVoter } from "./quorum.js";
import type { RandomSource } from "./rand.js";
import { ReadOnlyQueue } from "./read-only.js";
import {
  type Entry,
  EntryType,
  type HardState,
  type LostEntries,
  type Message,
  type MessageType,
  type NodeId,
  type ReadState,
  type RestoredState,
  type Role,
  type SnapshotChunk,
  type SnapshotMeta,
  type SoftState,
} from "./types.js";

export type ReadMode = "linearizable" | "lease";

export type CampaignKind = "pre" | "real" | "transfer";

/** Why a node started an election: its timer, its leader's process found gone, a transfer. */
export type ElectionReason = "timeout" | "leaderUnreachable" | "transfer";

/** Elections started, by reason (campaigns the owner asked for by hand are not counted). */
export type ElectionCounts = Record<ElectionReason, number>;

/**
 * A follower told that its leader's process is gone campaigns within this many ticks (drawn
 * from the seed): at least 1, so that followers told at the same moment, whose tick timers run
 * at different phases, rarely campaign at once and split the vote.
 */
export const unreachableCampaignTicksMax = 2;

/**
 * Which messages may leave before the sender's pending writes are durable. The leader's
 * appends go out in parallel with its own write; acks and votes promise durable state.
 */
const sentBeforePersist: Record<MessageType, boolean> = {
  append: true,
  heartbeat: true,
  snapshot: true,
  timeoutNow: true,
  readIndex: true,
  readIndexResp: true,
  vote: false,
  voteResp: false,
  appendResp: false,
  heartbeatResp: false,
  snapshotResp: false,
};

export type Outgoing = {
  [K in Message as K["type"]]: Omit<K, "group" | "from" | "term">;
}[MessageType] & {
  term?: number;
};

/** What a role does with a message (after the term was handled) and with a tick. */
export interface RoleFns {
  readonly step: (r: RaftCore, m: Message) => void;
  readonly tick: (r: RaftCore) => void;
}

/**
 * The per-role functions, handed in by the facade (raft/node.ts) so that this file imports
 * none of the role files: a transition swaps step and tick (etcd raft.go becomeFollower sets
 * r.step = stepFollower and r.tick = r.tickElection). A leader also sets up and tears down
 * its leader state.
 */
export interface RoleTable {
  readonly follower: RoleFns;
  readonly candidate: RoleFns;
  readonly leader: RoleFns & {
    readonly enter: (r: RaftCore) => void;
    readonly leave: (r: RaftCore) => void;
  };
}

/**
 * The state of one Raft peer and the primitives every role uses (send, commitTo, role
 * transitions). Only raft/ touches it: the owner holds the RaftNode facade, which keeps its
 * core private and exposes status().
 */
export class RaftCore {
  /** The current role's message handler and tick: swapped by the transitions below. */
  stepFn: (r: RaftCore, m: Message) => void;
  tickFn: (r: RaftCore) => void;

  readonly id: NodeId;
  readonly config: RaftConfig;
  readonly random: RandomSource;

  // Persistent state (Figure 2), durable through Ready.hardState.
  term = 0;
  vote: NodeId | null = null;
  readonly log: RaftLog;

  // Volatile state.
  role: Role = "follower";
  leader: NodeId | null = null;
  commitIndex = 0;
  /** Highest index the owner reported applied. Invariant: appliedIndex <= applyingIndex. */
  appliedIndex = 0;
  /** Highest committed index handed out in a Ready. Invariant: <= commitIndex, <= stableIndex. */
  applyingIndex = 0;
  /** Highest index known durable in our own storage. Invariant: stableIndex <= lastIndex. */
  stableIndex = 0;
  /** Highest index handed out for persistence. Invariant: stableIndex <= inProgressIndex. */
  inProgressIndex = 0;
  readonly membership: MembershipLog;
  snapshotMeta: SnapshotMeta | null = null;

  // Time, in ticks.
  tickCount = 0;
  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTicks = 0;
  /**
   * The election timer was shortened because the leader's process is gone (peerUnreachable):
   * contact with a leader puts back a full randomized timeout.
   */
  earlyCampaign = false;
  /** Ticks since we last heard from a live leader (or, as leader, confirmed a quorum). */
  ticksSinceLeaderContact = 0;
  /**
   * Told that the leader we last heard from is gone (peerUnreachable): until we hear from a
   * leader again, we keep only the promise behind its lease (inLeaderLease).
   */
  leaderGone = false;

  // Candidate state.
  votes = new Map<NodeId, boolean>();
  readonly elections: ElectionCounts = { timeout: 0, leaderUnreachable: 0, transfer: 0 };
  lastElectionReason: ElectionReason | null = null;

  // Leader state.
  readonly progress = new Map<NodeId, Progress>();
  leadTransferee: NodeId | null = null;
  transferElapsed = 0;
  /** A TimeoutNow went out this term: the target may win at any time, so no more lease reads. */
  timeoutNowSent = false;
  /** Nodes no longer in the configuration, with the index of the entry that removed them. */
  readonly removedAt = new Map<NodeId, number>();
  /** Index of the no-op this leader appended: reads and config changes wait for its commit. */
  termStartIndex = 0;
  uncommittedBytes = 0;
  appendBroadcastPending = false;
  heartbeatBroadcastPending = false;
  readonly readOnly: ReadOnlyQueue;
  waitingReads: { ctx: string; from: NodeId; mode: ReadMode }[] = [];

  /** Followers this node, as leader, found to have lost acknowledged entries (a count). */
  followersLostEntries = 0;
  lastLostEntries: LostEntries | null = null;
  /**
   * The commit index stored before a restart whose log turned out shorter (the storage lost
   * durable entries): until it holds that far again, this node neither votes nor campaigns,
   * so that it cannot help elect a leader lacking entries it had acknowledged. 0: none.
   */
  catchUpIndex = 0;

  // Follower: an InstallSnapshot being received.
  incomingSnapshot: { meta: SnapshotMeta; nextOffset: number } | null = null;

  // Outboxes, emptied by ready().
  messages: Message[] = [];
  persistedMessages: Message[] = [];
  readStates: ReadState[] = [];
  snapshotChunks: SnapshotChunk[] = [];
  snapshotToInstall: SnapshotMeta | null = null;
  handedHardState: HardState;
  handedSoftState: SoftState;

  constructor(
    config: RaftConfig,
    random: RandomSource,
    readonly roles: RoleTable,
    restored?: RestoredState,
  ) {
    validateRaftConfig(config);
    this.id = config.id;
    this.config = config;
    this.random = random;
    this.readOnly = new ReadOnlyQueue(config.maxPendingReads);
    const snapshot = restored?.snapshot ?? null;
    if (snapshot !== null) {
      this.log = new RaftLog(snapshot.index, snapshot.term, snapshot.chk);
      this.membership = new MembershipLog(
        snapshot.index,
        snapshot.config,
        snapshot.configContext ?? "",
      );
      this.snapshotMeta = snapshot;
    } else {
      this.log = new RaftLog();
      this.membership = new MembershipLog(0, config.initialConfig);
    }
    const hardState = restored?.hardState ?? { term: 0, vote: null, commit: 0 };
    if (restored !== undefined) {
      this.log.restore(restored.entries);
      this.trackConfigEntries(restored.entries);
      this.appliedIndex = Math.max(restored.applied, snapshot?.index ?? 0);
    }
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.applyingIndex = this.appliedIndex;
    assert(this.appliedIndex <= this.log.lastIndex(), "restore: applied beyond the log");
    // A stored commit beyond the log: entries once durable are gone (a storage fault).
    if (hardState.commit > this.log.lastIndex()) this.catchUpIndex = hardState.commit;
    this.commitIndex = Math.min(
      Math.max(hardState.commit, this.appliedIndex),
      this.log.lastIndex(),
    );
    this.stableIndex = this.log.lastIndex();
    this.inProgressIndex = this.stableIndex;
    this.handedHardState = hardState;
    this.handedSoftState = { role: "follower", leader: null, term: this.term };
    this.resetTimers();
    this.stepFn = roles.follower.step;
    this.tickFn = roles.follower.tick;
    // A restarted node may have promised a leader its lease before it crashed: it waits out
    // one election timeout before voting. A brand-new node has promised nothing.
    const brandNew = this.term === 0 && this.log.lastIndex() === 0;
    this.ticksSinceLeaderContact = brandNew ? config.electionTicks : 0;
  }

  send(m: Outgoing): void {
    const message = { group: this.config.group, from: this.id, term: this.term, ...m } as Message;
    if (sentBeforePersist[message.type]) this.messages.push(message);
    else this.persistedMessages.push(message);
  }

  /** Tell the leader we hold everything up to our commit index (its message was behind it). */
  ackCommitted(to: NodeId, sentTick: number): void {
    this.send({
      type: "appendResp",
      to,
      reject: false,
      index: this.commitIndex,
      hintIndex: 0,
      hintTerm: 0,
      sentTick,
    });
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.commitIndex };
  }

  softState(): SoftState {
    return { role: this.role, leader: this.leader, term: this.term };
  }

  applyableIndex(): number {
    return Math.min(this.commitIndex, this.stableIndex);
  }

  commitTo(index: number): void {
    if (index <= this.commitIndex) return;
    assert(
      index <= this.log.lastIndex(),
      `commit ${index} beyond last index ${this.log.lastIndex()}`,
    );
    this.commitIndex = index;
  }

  resetTimers(): void {
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.earlyCampaign = false;
    const et = this.config.electionTicks;
    this.randomizedElectionTicks = et + this.random.int(et);
  }

  promotable(): boolean {
    return isVoter(this.membership.current(), this.id) && !this.catchingUp();
  }

  /** See catchUpIndex: durable entries were lost and are not back yet. */
  catchingUp(): boolean {
    return this.catchUpIndex > this.stableIndex;
  }

  /**
   * A follower that heard from a live leader within ET ignores votes (thesis §4.2.3). One told
   * that its leader's process is gone keeps only the promise behind the leader lease
   * (leaseTicks + leaseDriftTicks): if the signal was wrong, that leader may still serve lease
   * reads until then, and no other may be elected meanwhile.
   */
  inLeaderLease(): boolean {
    const promiseTicks = this.leaderGone ? this.leasePromiseTicks() : this.config.electionTicks;
    return this.config.checkQuorum && this.ticksSinceLeaderContact < promiseTicks;
  }

  /** We heard from a live leader (or, as leader, confirmed a quorum): a full lease again. */
  leaderContact(): void {
    this.ticksSinceLeaderContact = 0;
    this.leaderGone = false;
  }

  leasePromiseTicks(): number {
    return this.config.leaseTicks + this.config.leaseDriftTicks;
  }

  trackConfigEntries(entries: readonly Entry[]): void {
    for (const entry of entries) {
      if (entry.type !== EntryType.config || entry.index <= this.membership.currentIndex())
        continue;
      const { config, context } = decodeConfigEntry(entry.data);
      assertValidMembership(config);
      this.membership.append(entry.index, config, context);
    }
  }

  /** Entries from `index` on were replaced: forget what we knew of them. */
  logChangedFrom(index: number): void {
    this.stableIndex = Math.min(this.stableIndex, index - 1);
    this.inProgressIndex = Math.min(this.inProgressIndex, index - 1);
    this.membership.truncateFrom(index);
    this.trackConfigEntries(this.log.slice(index, this.log.lastIndex()));
  }

  answerRead(ctx: string, from: NodeId, ok: boolean, index: number): void {
    if (from === this.id) this.readStates.push({ ctx, ok, index });
    else this.send({ type: "readIndexResp", to: from, ctx, ok, index });
  }

  sendTimeoutNow(to: NodeId): void {
    this.timeoutNowSent = true;
    this.send({ type: "timeoutNow", to });
  }

  becomeFollower(term: number, leader: NodeId | null): void {
    const wasLeader = this.role === "leader";
    if (term !== this.term) {
      assert(term > this.term, "become follower: term must not go back");
      this.term = term;
      this.vote = null;
    }
    this.role = "follower";
    this.leader = leader;
    if (leader !== null) this.leaderContact();
    this.resetTimers();
    this.stepFn = this.roles.follower.step;
    this.tickFn = this.roles.follower.tick;
    if (wasLeader) this.roles.leader.leave(this);
  }

  becomePreCandidate(): void {
    assert(this.role !== "leader", "a leader does not campaign");
    this.role = "precandidate";
    this.leader = null;
    this.resetTimers();
    this.stepFn = this.roles.candidate.step;
    this.tickFn = this.roles.candidate.tick;
  }

  becomeCandidate(): void {
    assert(this.role !== "leader", "a leader does not campaign");
    this.term++;
    this.vote = this.id;
    this.role = "candidate";
    this.leader = null;
    this.resetTimers();
    this.stepFn = this.roles.candidate.step;
    this.tickFn = this.roles.candidate.tick;
  }

  becomeLeader(): void {
    assert(this.role === "candidate", "only a candidate becomes leader");
    this.role = "leader";
    this.leader = this.id;
    this.resetTimers();
    this.stepFn = this.roles.leader.step;
    this.tickFn = this.roles.leader.tick;
    this.leaderContact();
    this.leadTransferee = null;
    this.timeoutNowSent = false;
    this.roles.leader.enter(this);
  }
}
