import { assert } from "./assert.js";
import { assertValidMembership, type RaftConfig, validateRaftConfig } from "./config.js";
import { RaftLog } from "./log.js";
import { decodeConfigEntry, encodeConfigEntry, MembershipLog } from "./membership.js";
import { Progress } from "./progress.js";
import {
  allMembers,
  committedIndex,
  isJoint,
  isVoter,
  jointMajority,
  voteResult,
} from "./quorum.js";
import type { RandomSource } from "./rand.js";
import { ReadOnlyQueue } from "./read-only.js";
import {
  type AppendEntries,
  type AppendResponse,
  type ConfigChange,
  type Entry,
  EntryType,
  type HardState,
  type Heartbeat,
  type HeartbeatResponse,
  type InstallSnapshot,
  type LostEntries,
  type MembershipConfig,
  type Message,
  type MessageType,
  type NodeId,
  type ProposeResult,
  type ReadState,
  type Ready,
  type RestoredState,
  type Role,
  type SnapshotChunk,
  type SnapshotMeta,
  type SnapshotResponse,
  type SoftState,
  type VoteRequest,
  type VoteResponse,
} from "./types.js";

const EMPTY = new Uint8Array(0);

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

type Outgoing = { [K in Message as K["type"]]: Omit<K, "group" | "from" | "term"> }[MessageType] & {
  term?: number;
};

export type ReadMode = "linearizable" | "lease";

export type CampaignKind = "pre" | "real" | "transfer";

/**
 * One Raft peer of one group: a pure, synchronous state machine. Inputs are tick(), step(),
 * propose*(), readIndex(), transferLeadership() and compact(); the output is ready(), which
 * the owner persists and acknowledges with advance(). No I/O, no clock, no Math.random.
 */
export class RaftNode {
  readonly id: NodeId;
  readonly config: RaftConfig;
  private readonly random: RandomSource;

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
  private applyingIndex = 0;
  /** Highest index known durable in our own storage. Invariant: stableIndex <= lastIndex. */
  private stableIndex = 0;
  /** Highest index handed out for persistence. Invariant: stableIndex <= inProgressIndex. */
  private inProgressIndex = 0;
  readonly membership: MembershipLog;
  snapshotMeta: SnapshotMeta | null = null;

  // Time, in ticks.
  tickCount = 0;
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTicks = 0;
  /** Ticks since we last heard from a live leader (or, as leader, confirmed a quorum). */
  private ticksSinceLeaderContact = 0;

  // Candidate state.
  private votes = new Map<NodeId, boolean>();

  // Leader state.
  readonly progress = new Map<NodeId, Progress>();
  leadTransferee: NodeId | null = null;
  private transferElapsed = 0;
  /** A TimeoutNow went out this term: the target may win at any time, so no more lease reads. */
  private timeoutNowSent = false;
  /** Nodes no longer in the configuration, with the index of the entry that removed them. */
  private readonly removedAt = new Map<NodeId, number>();
  /** Index of the no-op this leader appended: reads and config changes wait for its commit. */
  private termStartIndex = 0;
  private uncommittedBytes = 0;
  private appendBroadcastPending = false;
  private heartbeatBroadcastPending = false;
  private readOnly: ReadOnlyQueue;
  private waitingReads: { ctx: string; from: NodeId; mode: ReadMode }[] = [];

  /** Followers this node, as leader, found to have lost acknowledged entries (a count). */
  followersLostEntries = 0;
  lastLostEntries: LostEntries | null = null;
  /**
   * The commit index stored before a restart whose log turned out shorter (the storage lost
   * durable entries): until it holds that far again, this node neither votes nor campaigns,
   * so that it cannot help elect a leader lacking entries it had acknowledged. 0: none.
   */
  private catchUpIndex = 0;

  // Follower: an InstallSnapshot being received.
  private incomingSnapshot: { meta: SnapshotMeta; nextOffset: number } | null = null;

  // Outboxes, emptied by ready().
  private messages: Message[] = [];
  private persistedMessages: Message[] = [];
  private readStates: ReadState[] = [];
  private snapshotChunks: SnapshotChunk[] = [];
  private snapshotToInstall: SnapshotMeta | null = null;
  private handedHardState: HardState;
  private handedSoftState: SoftState;

  constructor(config: RaftConfig, random: RandomSource, restored?: RestoredState) {
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
    // A restarted node may have promised a leader its lease before it crashed: it waits out
    // one election timeout before voting. A brand-new node has promised nothing.
    const brandNew = this.term === 0 && this.log.lastIndex() === 0;
    this.ticksSinceLeaderContact = brandNew ? config.electionTicks : 0;
  }

  // ---------------------------------------------------------------- inputs

  tick(): void {
    this.tickCount++;
    this.ticksSinceLeaderContact++;
    if (this.role === "leader") this.tickLeader();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTicks) {
      this.electionElapsed = 0;
      this.campaign(this.config.preVote ? "pre" : "real");
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.config.electionTicks) {
      this.electionElapsed = 0;
      if (this.config.checkQuorum) {
        if (!this.quorumActive()) {
          this.becomeFollower(this.term, null);
          return;
        }
        this.ticksSinceLeaderContact = 0;
      }
    }
    if (this.leadTransferee !== null && ++this.transferElapsed >= this.config.electionTicks) {
      this.leadTransferee = null;
    }
    if (this.heartbeatElapsed >= this.config.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat();
    }
    this.resendStalledSnapshots();
  }

  step(m: Message): void {
    assert(m.group === this.config.group, `step: message for group ${m.group}`);
    assert(m.to === this.id, `step: message for ${m.to} delivered to ${this.id}`);
    if (m.term > this.term) {
      if (m.type === "vote" && !m.transfer && this.inLeaderLease()) return;
      if (m.type === "vote" && m.pre) {
        // A pre-vote changes no one's term.
      } else if (m.type === "voteResp" && m.pre && m.granted) {
        // It carries the term we would campaign in; ours moves only if we win.
      } else if (m.type === "append" || m.type === "heartbeat" || m.type === "snapshot") {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, null);
      }
    } else if (m.term < this.term) {
      this.rejectStaleTerm(m);
      return;
    }
    if (m.type === "vote") {
      this.handleVoteRequest(m);
      return;
    }
    switch (this.role) {
      case "leader":
        this.stepLeader(m);
        return;
      case "candidate":
      case "precandidate":
        this.stepCandidate(m);
        return;
      case "follower":
        this.stepFollower(m);
        return;
    }
  }

  /** A follower that heard from a live leader within ET ignores votes (thesis §4.2.3). */
  private inLeaderLease(): boolean {
    return this.config.checkQuorum && this.ticksSinceLeaderContact < this.config.electionTicks;
  }

  private rejectStaleTerm(m: Message): void {
    if (
      (this.config.checkQuorum || this.config.preVote) &&
      (m.type === "append" || m.type === "heartbeat")
    ) {
      // Tell a stale leader our term so that it steps down.
      this.send({
        type: "appendResp",
        to: m.from,
        reject: true,
        index: 0,
        hintIndex: 0,
        hintTerm: 0,
        sentTick: 0,
      });
    } else if (m.type === "vote" && m.pre) {
      this.send({ type: "voteResp", to: m.from, pre: true, granted: false });
    }
  }

  /** See catchUpIndex: durable entries were lost and are not back yet. */
  private catchingUp(): boolean {
    return this.catchUpIndex > this.stableIndex;
  }

  private handleVoteRequest(m: VoteRequest): void {
    if (this.catchingUp()) {
      this.send({ type: "voteResp", to: m.from, pre: m.pre, granted: false });
      return;
    }
    const canVote =
      this.vote === m.from ||
      (this.vote === null && this.leader === null) ||
      (m.pre && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.lastLogIndex, m.lastLogTerm)) {
      this.send({
        type: "voteResp",
        to: m.from,
        term: m.pre ? m.term : this.term,
        pre: m.pre,
        granted: true,
      });
      if (!m.pre) {
        this.vote = m.from;
        this.electionElapsed = 0;
      }
    } else {
      this.send({ type: "voteResp", to: m.from, pre: m.pre, granted: false });
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case "append":
      case "heartbeat":
      case "snapshot":
        this.leader = m.from;
        this.electionElapsed = 0;
        this.ticksSinceLeaderContact = 0;
        if (m.type === "append") this.handleAppend(m);
        else if (m.type === "snapshot") this.handleSnapshot(m);
        else {
          this.commitTo(Math.min(m.leaderCommit, this.log.lastIndex()));
          this.maybeReportLostEntries(m);
          this.send({
            type: "heartbeatResp",
            to: m.from,
            readSeq: m.readSeq,
            sentTick: m.sentTick,
          });
        }
        return;
      case "timeoutNow":
        if (this.promotable()) this.campaign("transfer");
        return;
      case "readIndex":
        this.send({ type: "readIndexResp", to: m.from, ctx: m.ctx, ok: false, index: 0 });
        return;
      case "readIndexResp":
        this.readStates.push({ ctx: m.ctx, ok: m.ok, index: m.index });
        return;
      default:
        return; // stale responses from an earlier role
    }
  }

  /**
   * The leader sends min(commit, our matchIndex): beyond our log, we lost entries we had
   * acknowledged. Say so as a rejection at that index with our last entry as the hint —
   * the leader then probes from there (Progress.maybeLostEntries).
   */
  private maybeReportLostEntries(m: Heartbeat): void {
    const lastIndex = this.log.lastIndex();
    if (m.leaderCommit <= lastIndex) return;
    this.send({
      type: "appendResp",
      to: m.from,
      reject: true,
      index: m.leaderCommit,
      hintIndex: lastIndex,
      hintTerm: this.log.term(lastIndex) ?? 0,
      sentTick: m.sentTick,
    });
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case "append":
      case "heartbeat":
      case "snapshot":
        this.becomeFollower(this.term, m.from);
        this.stepFollower(m);
        return;
      case "voteResp":
        this.handleVoteResponse(m);
        return;
      case "readIndexResp":
        this.readStates.push({ ctx: m.ctx, ok: m.ok, index: m.index });
        return;
      case "readIndex":
        this.send({ type: "readIndexResp", to: m.from, ctx: m.ctx, ok: false, index: 0 });
        return;
      default:
        return;
    }
  }

  private stepLeader(m: Message): void {
    const progress = this.progress.get(m.from);
    switch (m.type) {
      case "appendResp":
        if (progress) this.handleAppendResponse(m, progress);
        return;
      case "heartbeatResp":
        if (progress) this.handleHeartbeatResponse(m, progress);
        return;
      case "snapshotResp":
        if (progress) this.handleSnapshotResponse(m, progress);
        return;
      case "readIndex":
        this.handleReadRequest(m.ctx, m.from, "linearizable");
        return;
      case "append":
      case "heartbeat":
      case "snapshot":
        assert(false, `election safety: two leaders in term ${this.term} (${this.id}, ${m.from})`);
        return;
      default:
        return;
    }
  }

  // ---------------------------------------------------------------- elections

  /** Start an election now (tests, and the owner's explicit campaign). */
  campaign(kind: CampaignKind): void {
    if (!this.promotable()) return;
    if (kind === "pre") {
      this.becomePreCandidate();
    } else {
      this.becomeCandidate();
    }
    const voteTerm = kind === "pre" ? this.term + 1 : this.term;
    this.votes = new Map([[this.id, true]]);
    if (this.checkVotes()) return;
    const config = this.membership.current();
    for (const peer of new Set([...config.voters, ...config.outgoing])) {
      if (peer === this.id) continue;
      this.send({
        type: "vote",
        to: peer,
        term: voteTerm,
        pre: kind === "pre",
        lastLogIndex: this.log.lastIndex(),
        lastLogTerm: this.log.lastTerm(),
        transfer: kind === "transfer",
      });
    }
  }

  private handleVoteResponse(m: VoteResponse): void {
    if (m.pre !== (this.role === "precandidate")) return;
    this.votes.set(m.from, m.granted);
    this.checkVotes();
  }

  /** Returns true when the election ended (won or lost). */
  private checkVotes(): boolean {
    const result = voteResult(this.membership.current(), this.votes);
    if (result === "won") {
      if (this.role === "precandidate") this.campaign("real");
      else this.becomeLeader();
      return true;
    }
    if (result === "lost") {
      this.becomeFollower(this.term, null);
      return true;
    }
    return false;
  }

  private promotable(): boolean {
    return isVoter(this.membership.current(), this.id) && !this.catchingUp();
  }

  private resetTimers(): void {
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    const et = this.config.electionTicks;
    this.randomizedElectionTicks = et + this.random.int(et);
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
    if (leader !== null) this.ticksSinceLeaderContact = 0;
    this.resetTimers();
    if (wasLeader) this.abandonLeadership();
  }

  private becomePreCandidate(): void {
    assert(this.role !== "leader", "a leader does not campaign");
    this.role = "precandidate";
    this.leader = null;
    this.resetTimers();
  }

  private becomeCandidate(): void {
    assert(this.role !== "leader", "a leader does not campaign");
    this.term++;
    this.vote = this.id;
    this.role = "candidate";
    this.leader = null;
    this.resetTimers();
  }

  private becomeLeader(): void {
    assert(this.role === "candidate", "only a candidate becomes leader");
    this.role = "leader";
    this.leader = this.id;
    this.resetTimers();
    this.ticksSinceLeaderContact = 0;
    this.leadTransferee = null;
    this.timeoutNowSent = false;
    this.progress.clear();
    this.removedAt.clear();
    this.syncProgress("elected");
    this.uncommittedBytes = this.log.entryBytes(this.commitIndex + 1, this.log.lastIndex());
    const noop = this.appendLeaderEntry(EntryType.normal, EMPTY);
    this.termStartIndex = noop.index;
  }

  /** Leadership ends: pending reads fail, proposals are left to the log's fate. */
  private abandonLeadership(): void {
    this.progress.clear();
    this.leadTransferee = null;
    this.appendBroadcastPending = false;
    this.heartbeatBroadcastPending = false;
    for (const read of this.readOnly.drain()) this.answerRead(read.ctx, read.from, false, 0);
    for (const read of this.waitingReads) this.answerRead(read.ctx, read.from, false, 0);
    this.waitingReads = [];
  }

  private quorumActive(): boolean {
    const active = committedIndex(this.membership.current(), (id) =>
      id === this.id || this.progress.get(id)?.recentActive ? 1 : 0,
    );
    for (const progress of this.progress.values()) progress.recentActive = false;
    return active === 1;
  }

  // ---------------------------------------------------------------- replication (leader)

  private appendLeaderEntry(type: EntryType, data: Uint8Array): Entry {
    const entry = this.log.appendNew(this.term, type, data);
    this.uncommittedBytes += data.length;
    if (type === EntryType.config) this.trackConfigEntries([entry]);
    this.appendBroadcastPending = true;
    return entry;
  }

  /**
   * Progress for every member of the current configuration, and for no one else. A member
   * added by a configuration change counts as recently active until the next check-quorum
   * (etcd confchange initProgress): else that check could fail the new half of a joint
   * configuration before the new member had a chance to answer. Its probe starts at our last
   * index, the entry that added it, so it hears from us in the next Ready rather than at the
   * next heartbeat (etcd: Next = LastIndex); a new leader's followers start past the log and
   * get the no-op it appends.
   */
  private syncProgress(cause: "elected" | "changed"): void {
    const members = new Set(allMembers(this.membership.current()));
    const lastIndex = this.log.lastIndex();
    const nextIndex = cause === "changed" ? lastIndex : lastIndex + 1;
    assert(nextIndex >= 1, "progress: a new member's nextIndex must be past matchIndex 0");
    for (const id of members) {
      this.removedAt.delete(id);
      if (id === this.id || this.progress.has(id)) continue;
      const progress = new Progress(nextIndex, this.config.maxInflight);
      progress.lastProgressTick = this.tickCount;
      progress.recentActive = cause === "changed";
      this.progress.set(id, progress);
    }
    // A removed node keeps receiving the log until it holds the entry that removed it: then it
    // knows it is no longer a voter and stops campaigning.
    for (const id of this.progress.keys()) {
      if (!members.has(id) && !this.removedAt.has(id)) {
        this.removedAt.set(id, this.membership.currentIndex());
      }
    }
  }

  /** Forget a removed node once it has the configuration entry that removed it. */
  private maybeForgetRemoved(id: NodeId, progress: Progress): void {
    const index = this.removedAt.get(id);
    if (index !== undefined && progress.matchIndex >= index) {
      this.removedAt.delete(id);
      this.progress.delete(id);
    }
  }

  /** Send what `to` needs next. Returns true if a message was sent. */
  private sendAppend(to: NodeId, progress: Progress, sendIfEmpty: boolean): boolean {
    if (progress.isPaused()) return false;
    const prevLogIndex = progress.nextIndex - 1;
    const prevLogTerm = this.log.term(prevLogIndex);
    if (prevLogTerm === undefined) {
      this.startSnapshot(to, progress);
      return true;
    }
    const lastIndex = this.log.lastIndex();
    const entries =
      progress.nextIndex <= lastIndex
        ? this.log.slice(progress.nextIndex, lastIndex, this.config.maxAppendBytes)
        : [];
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send({
      type: "append",
      to,
      prevLogIndex,
      prevLogTerm,
      entries,
      leaderCommit: this.commitIndex,
      sentTick: this.tickCount,
    });
    progress.sentEntries(entries.at(-1)?.index);
    return true;
  }

  /** Pipelining: fill the follower's window. Bounded by maxInflight. */
  private sendMore(to: NodeId, progress: Progress): void {
    for (let k = 0; k <= this.config.maxInflight; k++) {
      if (!this.sendAppend(to, progress, false)) return;
    }
  }

  private broadcastAppend(): void {
    for (const [id, progress] of this.progress) this.sendMore(id, progress);
  }

  private broadcastHeartbeat(): void {
    this.heartbeatBroadcastPending = false;
    for (const [to, progress] of this.progress) {
      this.send({
        type: "heartbeat",
        to,
        leaderCommit: Math.min(progress.matchIndex, this.commitIndex),
        readSeq: this.readOnly.lastSeq,
        sentTick: this.tickCount,
      });
    }
    this.readOnly.sent();
    // Where the leader alone is a quorum (a configuration shrunk to one voter), sending the
    // round confirms it: no echo will come.
    this.releaseReads();
  }

  private handleAppendResponse(m: AppendResponse, progress: Progress): void {
    progress.recentActive = true;
    progress.ackedSentTick = Math.max(progress.ackedSentTick, m.sentTick);
    if (m.reject) {
      const matchHint =
        m.hintTerm > 0 ? this.log.findConflictByTerm(m.hintIndex, m.hintTerm).index : m.hintIndex;
      const matchIndex = progress.matchIndex;
      if (progress.maybeLostEntries(m.index, matchHint)) {
        this.followersLostEntries++;
        this.lastLostEntries = { peer: m.from, matchIndex, lastIndex: matchHint };
        this.sendAppend(m.from, progress, true);
      } else if (progress.maybeDecrTo(m.index, matchHint)) {
        if (progress.state === "replicate") progress.becomeProbe();
        this.sendAppend(m.from, progress, true);
      }
      return;
    }
    if (progress.maybeUpdate(m.index)) {
      progress.lastProgressTick = this.tickCount;
      if (progress.state === "probe") progress.becomeReplicate();
      else if (
        progress.state === "snapshot" &&
        progress.matchIndex >= progress.snapshot!.meta.index
      ) {
        progress.becomeReplicate();
      } else if (progress.state === "replicate") progress.inflights.freeLE(m.index);
      this.maybeCommit();
      if (this.role !== "leader") return;
      this.maybeForgetRemoved(m.from, progress);
      if (!this.progress.has(m.from)) return;
      if (m.from === this.leadTransferee && progress.matchIndex === this.log.lastIndex()) {
        this.sendTimeoutNow(m.from);
      }
    }
    this.sendMore(m.from, progress);
  }

  private handleHeartbeatResponse(m: HeartbeatResponse, progress: Progress): void {
    progress.recentActive = true;
    progress.ackedSentTick = Math.max(progress.ackedSentTick, m.sentTick);
    progress.probeSent = false;
    const lastIndex = this.log.lastIndex();
    // A full window with no ack for a while: its tail was lost; probe again.
    if (
      progress.state === "replicate" &&
      progress.matchIndex < lastIndex &&
      this.tickCount - progress.lastProgressTick > 2 * this.config.heartbeatTicks
    ) {
      progress.becomeProbe();
    }
    if (progress.matchIndex < lastIndex) this.sendAppend(m.from, progress, true);
    if (m.readSeq > progress.ackedReadSeq) {
      progress.ackedReadSeq = m.readSeq;
      this.releaseReads();
    }
  }

  /** Commit the highest index held by a joint majority — only of our own term (Figure 8). */
  private maybeCommit(): void {
    const index = committedIndex(this.membership.current(), (id) =>
      id === this.id ? this.stableIndex : (this.progress.get(id)?.matchIndex ?? 0),
    );
    if (index <= this.commitIndex || this.log.term(index) !== this.term) return;
    this.uncommittedBytes -= this.log.entryBytes(this.commitIndex + 1, index);
    this.commitTo(index);
    this.afterLeaderCommit();
  }

  private afterLeaderCommit(): void {
    if (this.commitIndex >= this.termStartIndex && this.waitingReads.length > 0) {
      const waiting = this.waitingReads;
      this.waitingReads = [];
      for (const read of waiting) this.handleReadRequest(read.ctx, read.from, read.mode);
    }
    const config = this.membership.current();
    if (this.membership.currentIndex() > this.commitIndex) return;
    if (isJoint(config)) {
      // C_old,new is committed: leave the joint configuration at once.
      const next = { voters: config.voters, outgoing: [], learners: config.learners };
      const context = this.membership.currentContext();
      this.appendLeaderEntry(EntryType.config, encodeConfigEntry({ config: next, context }));
      this.syncProgress("changed");
    } else if (!config.voters.includes(this.id)) {
      // We were removed: tell everyone the commit, then step down (thesis §4.2.2).
      for (const [to, progress] of this.progress) this.sendAppend(to, progress, true);
      this.becomeFollower(this.term, null);
    }
  }

  private commitTo(index: number): void {
    if (index <= this.commitIndex) return;
    assert(
      index <= this.log.lastIndex(),
      `commit ${index} beyond last index ${this.log.lastIndex()}`,
    );
    this.commitIndex = index;
  }

  // ---------------------------------------------------------------- replication (follower)

  private handleAppend(m: AppendEntries): void {
    if (m.prevLogIndex < this.commitIndex) {
      this.send({
        type: "appendResp",
        to: m.from,
        reject: false,
        index: this.commitIndex,
        hintIndex: 0,
        hintTerm: 0,
        sentTick: m.sentTick,
      });
      return;
    }
    if (!this.log.matchTerm(m.prevLogIndex, m.prevLogTerm)) {
      const hint = this.log.findConflictByTerm(
        Math.min(m.prevLogIndex, this.log.lastIndex()),
        m.prevLogTerm,
      );
      this.send({
        type: "appendResp",
        to: m.from,
        reject: true,
        index: m.prevLogIndex,
        hintIndex: hint.index,
        hintTerm: hint.term,
        sentTick: m.sentTick,
      });
      return;
    }
    const firstWritten = this.log.appendFromLeader(m.entries);
    if (firstWritten !== undefined) {
      assert(
        firstWritten > this.commitIndex,
        `append would overwrite committed index ${firstWritten}`,
      );
      this.logChangedFrom(firstWritten);
    }
    const lastNewIndex = m.prevLogIndex + m.entries.length;
    this.commitTo(Math.min(m.leaderCommit, lastNewIndex));
    this.send({
      type: "appendResp",
      to: m.from,
      reject: false,
      index: lastNewIndex,
      hintIndex: 0,
      hintTerm: 0,
      sentTick: m.sentTick,
    });
  }

  /** Entries from `index` on were replaced: forget what we knew of them. */
  private logChangedFrom(index: number): void {
    this.stableIndex = Math.min(this.stableIndex, index - 1);
    this.inProgressIndex = Math.min(this.inProgressIndex, index - 1);
    this.membership.truncateFrom(index);
    this.trackConfigEntries(this.log.slice(index, this.log.lastIndex()));
  }

  private trackConfigEntries(entries: readonly Entry[]): void {
    for (const entry of entries) {
      if (entry.type !== EntryType.config || entry.index <= this.membership.currentIndex())
        continue;
      const { config, context } = decodeConfigEntry(entry.data);
      assertValidMembership(config);
      this.membership.append(entry.index, config, context);
    }
  }

  // ---------------------------------------------------------------- snapshots

  /**
   * The owner has snapshotted its state machine up to `index` (<= appliedIndex), `size` bytes.
   * The log is compacted, keeping `retainEntries` entries before it for slow followers.
   */
  compact(index: number, size: number, retainEntries = 0): SnapshotMeta {
    assert(index <= this.appliedIndex, `compact: ${index} is not applied (${this.appliedIndex})`);
    const current = this.snapshotMeta;
    if (current !== null && index <= current.index) return current;
    const term = this.log.term(index);
    const chk = this.log.chk(index);
    assert(term !== undefined && chk !== undefined, `compact: index ${index} is not in the log`);
    const meta: SnapshotMeta = {
      index,
      term,
      chk,
      config: this.membership.at(index),
      configContext: this.membership.contextAt(index),
      size,
    };
    this.snapshotMeta = meta;
    const compactTo = Math.max(this.log.baseIndex, index - retainEntries);
    this.log.compactTo(compactTo);
    this.membership.compactTo(compactTo);
    for (const [to, progress] of this.progress) {
      if (progress.state === "snapshot") this.startSnapshot(to, progress);
    }
    return meta;
  }

  private startSnapshot(to: NodeId, progress: Progress): void {
    const meta = this.snapshotMeta;
    assert(meta !== null, "snapshot needed but none exists");
    progress.becomeSnapshot(meta);
    this.sendSnapshotChunk(to, progress);
  }

  private sendSnapshotChunk(to: NodeId, progress: Progress): void {
    const transfer = progress.snapshot!;
    const { meta } = transfer;
    const offset = transfer.ackedOffset;
    const length = Math.min(this.config.snapshotChunkBytes, meta.size - offset);
    const done = offset + length >= meta.size;
    this.send({ type: "snapshot", to, meta, offset, length, done, data: EMPTY });
    transfer.sentTick = this.tickCount;
  }

  private resendStalledSnapshots(): void {
    for (const [to, progress] of this.progress) {
      const sentTick = progress.snapshot?.sentTick;
      if (progress.state !== "snapshot" || sentTick === null || sentTick === undefined) continue;
      if (this.tickCount - sentTick >= this.config.electionTicks)
        this.sendSnapshotChunk(to, progress);
    }
  }

  private handleSnapshotResponse(m: SnapshotResponse, progress: Progress): void {
    progress.recentActive = true;
    const transfer = progress.snapshot;
    if (
      progress.state !== "snapshot" ||
      transfer === null ||
      m.snapshotIndex !== transfer.meta.index
    ) {
      return;
    }
    transfer.ackedOffset = m.reject
      ? Math.min(m.nextOffset, transfer.meta.size)
      : Math.max(transfer.ackedOffset, m.nextOffset);
    this.sendSnapshotChunk(m.from, progress);
  }

  private handleSnapshot(m: InstallSnapshot): void {
    const { meta } = m;
    if (meta.index <= this.commitIndex) {
      this.incomingSnapshot = null;
      this.send({
        type: "appendResp",
        to: m.from,
        reject: false,
        index: this.commitIndex,
        hintIndex: 0,
        hintTerm: 0,
        sentTick: 0,
      });
      return;
    }
    if (m.offset === 0) this.incomingSnapshot = { meta, nextOffset: 0 };
    const incoming = this.incomingSnapshot;
    const same =
      incoming !== null && incoming.meta.index === meta.index && incoming.meta.term === meta.term;
    if (!same || m.offset !== incoming.nextOffset) {
      const nextOffset = same ? incoming.nextOffset : 0;
      this.send({
        type: "snapshotResp",
        to: m.from,
        snapshotIndex: meta.index,
        nextOffset,
        reject: true,
      });
      return;
    }
    assert(m.data.length === m.length, "snapshot chunk: data length differs from its header");
    this.snapshotChunks.push({ meta, offset: m.offset, data: m.data, done: m.done });
    incoming.nextOffset += m.data.length;
    if (!m.done) {
      this.send({
        type: "snapshotResp",
        to: m.from,
        snapshotIndex: meta.index,
        nextOffset: incoming.nextOffset,
        reject: false,
      });
      return;
    }
    this.incomingSnapshot = null;
    this.installSnapshot(meta);
    this.send({
      type: "appendResp",
      to: m.from,
      reject: false,
      index: this.log.lastIndex(),
      hintIndex: 0,
      hintTerm: 0,
      sentTick: 0,
    });
  }

  private installSnapshot(meta: SnapshotMeta): void {
    if (this.log.matchTerm(meta.index, meta.term)) {
      // We already hold the snapshot's entries: just commit up to it (the chunks are discarded).
      this.commitTo(meta.index);
      return;
    }
    this.log.resetTo(meta.index, meta.term, meta.chk);
    this.membership.reset(meta.index, meta.config, meta.configContext ?? "");
    this.snapshotMeta = meta;
    this.commitIndex = meta.index;
    this.appliedIndex = meta.index;
    this.applyingIndex = meta.index;
    this.stableIndex = meta.index;
    this.inProgressIndex = meta.index;
    this.snapshotToInstall = meta;
  }

  // ---------------------------------------------------------------- proposals

  propose(data: Uint8Array): ProposeResult {
    const refusal = this.proposalRefusal();
    if (refusal) return refusal;
    if (
      this.uncommittedBytes > 0 &&
      this.uncommittedBytes + data.length > this.config.maxUncommittedBytes
    ) {
      return { ok: false, reason: "too-large", leader: this.leader };
    }
    const entry = this.appendLeaderEntry(EntryType.normal, data);
    return { ok: true, index: entry.index, term: entry.term };
  }

  /**
   * Joint consensus (thesis §4.3): a change of voters enters C_old,new, and the leader leaves
   * it for C_new as soon as C_old,new commits. Learner-only changes need no joint phase.
   */
  proposeConfigChange(changes: readonly ConfigChange[], context = ""): ProposeResult {
    const refusal = this.proposalRefusal();
    if (refusal) return refusal;
    const current = this.membership.current();
    if (
      this.commitIndex < this.termStartIndex ||
      this.membership.currentIndex() > this.commitIndex ||
      isJoint(current)
    ) {
      return { ok: false, reason: "config-pending", leader: this.leader };
    }
    const voters = new Set(current.voters);
    const learners = new Set(current.learners);
    for (const change of changes) {
      if (change.type === "addVoter") {
        if (learners.has(change.node) && !this.learnerCaughtUp(change.node)) {
          return { ok: false, reason: "learner-behind", leader: this.leader };
        }
        learners.delete(change.node);
        voters.add(change.node);
      } else if (change.type === "addLearner") {
        if (voters.has(change.node))
          return { ok: false, reason: "config-invalid", leader: this.leader };
        learners.add(change.node);
      } else {
        voters.delete(change.node);
        learners.delete(change.node);
      }
    }
    if (voters.size === 0) return { ok: false, reason: "config-invalid", leader: this.leader };
    // Demoting a voter straight to learner would put it in both halves of the joint config.
    if (current.voters.some((id) => learners.has(id))) {
      return { ok: false, reason: "config-invalid", leader: this.leader };
    }
    const votersChanged =
      voters.size !== current.voters.length || current.voters.some((id) => !voters.has(id));
    const next: MembershipConfig = {
      voters: [...voters],
      outgoing: votersChanged ? current.voters : [],
      learners: [...learners],
    };
    const entry = this.appendLeaderEntry(
      EntryType.config,
      encodeConfigEntry({ config: next, context }),
    );
    this.syncProgress("changed");
    return { ok: true, index: entry.index, term: entry.term };
  }

  private sendTimeoutNow(to: NodeId): void {
    this.timeoutNowSent = true;
    this.send({ type: "timeoutNow", to });
  }

  /**
   * A learner is caught up once it replicates in the pipelined state (its log matched ours)
   * and is within learnerCatchUpEntries of our last index.
   */
  learnerCaughtUp(id: NodeId): boolean {
    const progress = this.progress.get(id);
    return (
      progress !== undefined &&
      progress.state === "replicate" &&
      progress.matchIndex + this.config.learnerCatchUpEntries >= this.log.lastIndex()
    );
  }

  private proposalRefusal(): ProposeResult | null {
    if (this.role !== "leader") return { ok: false, reason: "not-leader", leader: this.leader };
    if (this.leadTransferee !== null)
      return { ok: false, reason: "transferring", leader: this.leader };
    return null;
  }

  /** Leadership transfer (thesis §3.10): catch `to` up, then TimeoutNow; abandoned after ET. */
  transferLeadership(to: NodeId): ProposeResult {
    if (this.role !== "leader") return { ok: false, reason: "not-leader", leader: this.leader };
    if (to === this.id) return { ok: true, index: this.log.lastIndex(), term: this.term };
    const progress = this.progress.get(to);
    if (progress === undefined || !this.membership.current().voters.includes(to)) {
      return { ok: false, reason: "config-invalid", leader: this.leader };
    }
    this.leadTransferee = to;
    this.transferElapsed = 0;
    if (progress.matchIndex === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to, progress, true);
    return { ok: true, index: this.log.lastIndex(), term: this.term };
  }

  // ---------------------------------------------------------------- reads

  /**
   * Ask for a read index; the answer arrives in Ready.readStates under `ctx`. A follower
   * forwards to its leader. "lease" answers at once while the leader lease holds.
   */
  readIndex(ctx: string, mode: ReadMode = "linearizable"): void {
    if (this.role === "leader") this.handleReadRequest(ctx, this.id, mode);
    else if (this.leader !== null) this.send({ type: "readIndex", to: this.leader, ctx });
    else this.readStates.push({ ctx, ok: false, index: 0 });
  }

  private handleReadRequest(ctx: string, from: NodeId, mode: ReadMode): void {
    if (this.commitIndex < this.termStartIndex) {
      // Our commitIndex may be stale until an entry of our term commits (thesis §6.4 step 1).
      if (this.waitingReads.length >= this.config.maxPendingReads)
        this.answerRead(ctx, from, false, 0);
      else this.waitingReads.push({ ctx, from, mode });
      return;
    }
    if (mode === "lease" && this.leaseValid()) {
      this.answerRead(ctx, from, true, this.commitIndex);
      return;
    }
    const config = this.membership.current();
    if (!isJoint(config) && config.voters.length === 1 && config.voters[0] === this.id) {
      this.answerRead(ctx, from, true, this.commitIndex);
      return;
    }
    if (!this.readOnly.add(ctx, this.commitIndex, from)) {
      this.answerRead(ctx, from, false, 0);
      return;
    }
    // With a round out, this read rides the next one, sent when that round is confirmed (or
    // with the next periodic heartbeat, should the round be lost).
    if (!this.readOnly.roundInFlight) this.heartbeatBroadcastPending = true;
  }

  private releaseReads(): void {
    // The leader vouches only for rounds it sent: reads waiting for the next round are not
    // confirmed even where the leader alone is a quorum.
    const seq = committedIndex(this.membership.current(), (id) =>
      id === this.id ? this.readOnly.sentSeq : (this.progress.get(id)?.ackedReadSeq ?? 0),
    );
    for (const read of this.readOnly.release(seq))
      this.answerRead(read.ctx, read.from, true, read.index);
    if (!this.readOnly.roundInFlight && this.readOnly.unsent) this.heartbeatBroadcastPending = true;
  }

  private answerRead(ctx: string, from: NodeId, ok: boolean, index: number): void {
    if (from === this.id) this.readStates.push({ ctx, ok, index });
    else this.send({ type: "readIndexResp", to: from, ctx, ok, index });
  }

  /**
   * The leader lease: a quorum echoed a message we sent at tick s, so none of them will vote
   * for another candidate before s + ET on their clocks. We trust it until s + ET - drift.
   */
  leaseValid(): boolean {
    if (!this.config.checkQuorum || this.role !== "leader" || this.leadTransferee !== null)
      return false;
    if (this.commitIndex < this.termStartIndex || this.timeoutNowSent) return false;
    const quorumTick = jointMajority(this.membership.current(), (id) =>
      id === this.id
        ? this.tickCount
        : (this.progress.get(id)?.ackedSentTick ?? Number.NEGATIVE_INFINITY),
    );
    return quorumTick + this.config.electionTicks - this.config.leaseDriftTicks > this.tickCount;
  }

  // ---------------------------------------------------------------- Ready / advance

  private send(m: Outgoing): void {
    const message = { group: this.config.group, from: this.id, term: this.term, ...m } as Message;
    if (sentBeforePersist[message.type]) this.messages.push(message);
    else this.persistedMessages.push(message);
  }

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.commitIndex };
  }

  private softState(): SoftState {
    return { role: this.role, leader: this.leader, term: this.term };
  }

  private applyableIndex(): number {
    return Math.min(this.commitIndex, this.stableIndex);
  }

  hasReady(): boolean {
    const hard = this.handedHardState;
    const soft = this.handedSoftState;
    return (
      this.messages.length > 0 ||
      this.persistedMessages.length > 0 ||
      this.readStates.length > 0 ||
      this.snapshotChunks.length > 0 ||
      this.snapshotToInstall !== null ||
      this.appendBroadcastPending ||
      this.heartbeatBroadcastPending ||
      this.log.lastIndex() > this.inProgressIndex ||
      this.applyableIndex() > this.applyingIndex ||
      hard.term !== this.term ||
      hard.vote !== this.vote ||
      hard.commit !== this.commitIndex ||
      soft.role !== this.role ||
      soft.leader !== this.leader
    );
  }

  ready(): Ready {
    if (this.role === "leader") {
      if (this.appendBroadcastPending) {
        this.appendBroadcastPending = false;
        this.broadcastAppend();
      }
      if (this.heartbeatBroadcastPending) this.broadcastHeartbeat();
    }
    const lastIndex = this.log.lastIndex();
    const entries =
      lastIndex > this.inProgressIndex ? this.log.slice(this.inProgressIndex + 1, lastIndex) : [];
    this.inProgressIndex = lastIndex;
    const hard = this.hardState();
    const prevHard = this.handedHardState;
    const hardChanged =
      hard.term !== prevHard.term || hard.vote !== prevHard.vote || hard.commit !== prevHard.commit;
    this.handedHardState = hard;
    const soft = this.softState();
    const prevSoft = this.handedSoftState;
    const softChanged =
      soft.role !== prevSoft.role || soft.leader !== prevSoft.leader || soft.term !== prevSoft.term;
    this.handedSoftState = soft;
    const applyable = this.applyableIndex();
    const committed =
      applyable > this.applyingIndex ? this.log.slice(this.applyingIndex + 1, applyable) : [];
    this.applyingIndex = Math.max(this.applyingIndex, applyable);
    const ready: Ready = {
      softState: softChanged ? soft : null,
      hardState: hardChanged ? hard : null,
      entries,
      snapshot: this.snapshotToInstall,
      snapshotChunks: this.snapshotChunks,
      messages: this.messages,
      persistedMessages: this.persistedMessages,
      committed,
      readStates: this.readStates,
    };
    this.snapshotToInstall = null;
    this.snapshotChunks = [];
    this.messages = [];
    this.persistedMessages = [];
    this.readStates = [];
    return ready;
  }

  /** The owner made `ready` durable. Acks carry (index, term): a replaced entry's ack is void. */
  advance(ready: Ready): void {
    if (ready.snapshot !== null)
      this.stableIndex = Math.max(this.stableIndex, ready.snapshot.index);
    const last = ready.entries.at(-1);
    if (last !== undefined && this.log.term(last.index) === last.term) {
      this.stableIndex = Math.max(this.stableIndex, Math.min(last.index, this.inProgressIndex));
    }
    if (this.role === "leader") this.maybeCommit();
  }

  /** The owner applied committed entries up to `index`. */
  appliedTo(index: number): void {
    assert(
      index <= this.applyingIndex,
      `applied ${index} was never handed out (${this.applyingIndex})`,
    );
    this.appliedIndex = Math.max(this.appliedIndex, index);
  }

  // ---------------------------------------------------------------- observation

  /** Chain checksum at `index`, if still in the log (or at its base). */
  checksumAt(index: number): number | undefined {
    return this.log.chk(index);
  }

  status(): RaftStatus {
    return {
      id: this.id,
      group: this.config.group,
      role: this.role,
      term: this.term,
      leader: this.leader,
      vote: this.vote,
      commitIndex: this.commitIndex,
      appliedIndex: this.appliedIndex,
      lastIndex: this.log.lastIndex(),
      firstIndex: this.log.firstIndex,
      config: this.membership.current(),
      leadTransferee: this.leadTransferee,
      followersLostEntries: this.followersLostEntries,
      lastLostEntries: this.lastLostEntries,
      catchUpIndex: this.catchingUp() ? this.catchUpIndex : 0,
    };
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
}
