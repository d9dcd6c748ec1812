/**
 * The leader: its step and tick, replication (probe, pipelined appends), the commit rule,
 * heartbeats and check-quorum. Leader state lives in RaftCore; startLeading and
 * abandonLeadership set it up and tear it down on the transitions.
 */
import { assert } from "./assert.js";
import type { RaftCore } from "./core.js";
import { encodeConfigEntry } from "./membership.js";
import { Progress } from "./progress.js";
import { allMembers, committedIndex, isJoint } from "./quorum.js";
import { handleReadRequest, releaseReads } from "./reads.js";
import { handleSnapshotResponse, resendStalledSnapshots, startSnapshot } from "./snapshot.js";
import {
  type AppendResponse,
  type Entry,
  EntryType,
  type HeartbeatResponse,
  type Message,
  type NodeId,
} from "./types.js";

const EMPTY = new Uint8Array(0);

export function tickLeader(r: RaftCore): void {
  r.heartbeatElapsed++;
  r.electionElapsed++;
  if (r.electionElapsed >= r.config.electionTicks) {
    r.electionElapsed = 0;
    if (r.config.checkQuorum) {
      if (!quorumActive(r)) {
        r.becomeFollower(r.term, null);
        return;
      }
      r.leaderContact();
    }
  }
  if (r.leadTransferee !== null && ++r.transferElapsed >= r.config.electionTicks) {
    r.leadTransferee = null;
  }
  if (r.heartbeatElapsed >= r.config.heartbeatTicks) {
    r.heartbeatElapsed = 0;
    broadcastHeartbeat(r);
  }
  resendStalledSnapshots(r);
}

export function stepLeader(r: RaftCore, m: Message): void {
  const progress = r.progress.get(m.from);
  switch (m.type) {
    case "appendResp":
      if (progress) handleAppendResponse(r, m, progress);
      return;
    case "heartbeatResp":
      if (progress) handleHeartbeatResponse(r, m, progress);
      return;
    case "snapshotResp":
      if (progress) handleSnapshotResponse(r, m, progress);
      return;
    case "readIndex":
      handleReadRequest(r, m.ctx, m.from, "linearizable");
      return;
    case "append":
    case "heartbeat":
    case "snapshot":
      assert(false, `election safety: two leaders in term ${r.term} (${r.id}, ${m.from})`);
      return;
    default:
      return;
  }
}

export function quorumActive(r: RaftCore): boolean {
  const active = committedIndex(r.membership.current(), (id) =>
    id === r.id || r.progress.get(id)?.recentActive ? 1 : 0,
  );
  for (const progress of r.progress.values()) progress.recentActive = false;
  return active === 1;
}

/** Leadership ends: pending reads fail, proposals are left to the log's fate. */
/** Leader state for a new term: progress for every member, then the no-op (§8). */
export function startLeading(r: RaftCore): void {
  r.progress.clear();
  r.removedAt.clear();
  syncProgress(r, "elected");
  r.uncommittedBytes = r.log.entryBytes(r.commitIndex + 1, r.log.lastIndex());
  const noop = appendLeaderEntry(r, EntryType.normal, EMPTY);
  r.termStartIndex = noop.index;
}

export function abandonLeadership(r: RaftCore): void {
  r.progress.clear();
  r.leadTransferee = null;
  r.appendBroadcastPending = false;
  r.heartbeatBroadcastPending = false;
  for (const read of r.readOnly.drain()) r.answerRead(read.ctx, read.from, false, 0);
  for (const read of r.waitingReads) r.answerRead(read.ctx, read.from, false, 0);
  r.waitingReads = [];
}

export function appendLeaderEntry(r: RaftCore, type: EntryType, data: Uint8Array): Entry {
  const entry = r.log.appendNew(r.term, type, data);
  r.uncommittedBytes += data.length;
  if (type === EntryType.config) r.trackConfigEntries([entry]);
  r.appendBroadcastPending = true;
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
export function syncProgress(r: RaftCore, cause: "elected" | "changed"): void {
  const members = new Set(allMembers(r.membership.current()));
  const lastIndex = r.log.lastIndex();
  const nextIndex = cause === "changed" ? lastIndex : lastIndex + 1;
  assert(nextIndex >= 1, "progress: a new member's nextIndex must be past matchIndex 0");
  for (const id of members) {
    r.removedAt.delete(id);
    if (id === r.id || r.progress.has(id)) continue;
    const progress = new Progress(nextIndex, r.config.maxInflight);
    progress.lastProgressTick = r.tickCount;
    progress.recentActive = cause === "changed";
    r.progress.set(id, progress);
  }
  // A removed node keeps receiving the log until it holds the entry that removed it: then it
  // knows it is no longer a voter and stops campaigning.
  for (const id of r.progress.keys()) {
    if (!members.has(id) && !r.removedAt.has(id)) {
      r.removedAt.set(id, r.membership.currentIndex());
    }
  }
}

/** Forget a removed node once it has the configuration entry that removed it. */
export function maybeForgetRemoved(r: RaftCore, id: NodeId, progress: Progress): void {
  const index = r.removedAt.get(id);
  if (index !== undefined && progress.matchIndex >= index) {
    r.removedAt.delete(id);
    r.progress.delete(id);
  }
}

/** Send what `to` needs next. Returns true if a message was sent. */
export function sendAppend(
  r: RaftCore,
  to: NodeId,
  progress: Progress,
  sendIfEmpty: boolean,
): boolean {
  if (progress.isPaused()) return false;
  const prevLogIndex = progress.nextIndex - 1;
  const prevLogTerm = r.log.term(prevLogIndex);
  if (prevLogTerm === undefined) {
    startSnapshot(r, to, progress);
    return true;
  }
  const lastIndex = r.log.lastIndex();
  const entries =
    progress.nextIndex <= lastIndex
      ? r.log.slice(progress.nextIndex, lastIndex, r.config.maxAppendBytes)
      : [];
  if (entries.length === 0 && !sendIfEmpty) return false;
  r.send({
    type: "append",
    to,
    prevLogIndex,
    prevLogTerm,
    entries,
    leaderCommit: r.commitIndex,
    sentTick: r.tickCount,
  });
  progress.sentEntries(entries.at(-1)?.index);
  return true;
}

/** Pipelining: fill the follower's window. Bounded by maxInflight. */
export function sendMore(r: RaftCore, to: NodeId, progress: Progress): void {
  for (let k = 0; k <= r.config.maxInflight; k++) {
    if (!sendAppend(r, to, progress, false)) return;
  }
}

export function broadcastAppend(r: RaftCore): void {
  for (const [id, progress] of r.progress) sendMore(r, id, progress);
}

export function broadcastHeartbeat(r: RaftCore): void {
  r.heartbeatBroadcastPending = false;
  for (const [to, progress] of r.progress) {
    r.send({
      type: "heartbeat",
      to,
      leaderCommit: Math.min(progress.matchIndex, r.commitIndex),
      readSeq: r.readOnly.lastSeq,
      sentTick: r.tickCount,
    });
  }
  r.readOnly.sent();
  // Where the leader alone is a quorum (a configuration shrunk to one voter), sending the
  // round confirms it: no echo will come.
  releaseReads(r);
}

export function handleAppendResponse(r: RaftCore, m: AppendResponse, progress: Progress): void {
  progress.recentActive = true;
  progress.ackedSentTick = Math.max(progress.ackedSentTick, m.sentTick);
  if (m.reject) {
    const matchHint =
      m.hintTerm > 0 ? r.log.findConflictByTerm(m.hintIndex, m.hintTerm).index : m.hintIndex;
    const matchIndex = progress.matchIndex;
    if (progress.maybeLostEntries(m.index, matchHint)) {
      r.followersLostEntries++;
      r.lastLostEntries = { peer: m.from, matchIndex, lastIndex: matchHint };
      sendAppend(r, m.from, progress, true);
    } else if (progress.maybeDecrTo(m.index, matchHint)) {
      if (progress.state === "replicate") progress.becomeProbe();
      sendAppend(r, m.from, progress, true);
    }
    return;
  }
  if (progress.maybeUpdate(m.index)) {
    progress.lastProgressTick = r.tickCount;
    if (progress.state === "probe") progress.becomeReplicate();
    else if (
      progress.state === "snapshot" &&
      progress.matchIndex >= progress.snapshot!.meta.index
    ) {
      progress.becomeReplicate();
    } else if (progress.state === "replicate") progress.inflights.freeLE(m.index);
    maybeCommit(r);
    if (r.role !== "leader") return;
    maybeForgetRemoved(r, m.from, progress);
    if (!r.progress.has(m.from)) return;
    if (m.from === r.leadTransferee && progress.matchIndex === r.log.lastIndex()) {
      r.sendTimeoutNow(m.from);
    }
  }
  sendMore(r, m.from, progress);
}

export function handleHeartbeatResponse(
  r: RaftCore,
  m: HeartbeatResponse,
  progress: Progress,
): void {
  progress.recentActive = true;
  progress.ackedSentTick = Math.max(progress.ackedSentTick, m.sentTick);
  progress.probeSent = false;
  const lastIndex = r.log.lastIndex();
  // A full window with no ack for a while: its tail was lost; probe again.
  if (
    progress.state === "replicate" &&
    progress.matchIndex < lastIndex &&
    r.tickCount - progress.lastProgressTick > 2 * r.config.heartbeatTicks
  ) {
    progress.becomeProbe();
  }
  if (progress.matchIndex < lastIndex) sendAppend(r, m.from, progress, true);
  if (m.readSeq > progress.ackedReadSeq) {
    progress.ackedReadSeq = m.readSeq;
    releaseReads(r);
  }
}

/** Commit the highest index held by a joint majority — only of our own term (Figure 8). */
export function maybeCommit(r: RaftCore): void {
  const index = committedIndex(r.membership.current(), (id) =>
    id === r.id ? r.stableIndex : (r.progress.get(id)?.matchIndex ?? 0),
  );
  assert(index <= r.log.lastIndex(), `commit: a quorum holds ${index}, beyond the leader's log`);
  if (index <= r.commitIndex || r.log.term(index) !== r.term) return;
  r.uncommittedBytes -= r.log.entryBytes(r.commitIndex + 1, index);
  r.commitTo(index);
  afterLeaderCommit(r);
}

export function afterLeaderCommit(r: RaftCore): void {
  if (r.commitIndex >= r.termStartIndex && r.waitingReads.length > 0) {
    const waiting = r.waitingReads;
    r.waitingReads = [];
    for (const read of waiting) handleReadRequest(r, read.ctx, read.from, read.mode);
  }
  const config = r.membership.current();
  if (r.membership.currentIndex() > r.commitIndex) return;
  if (isJoint(config)) {
    // C_old,new is committed: leave the joint configuration at once.
    const next = { voters: config.voters, outgoing: [], learners: config.learners };
    const context = r.membership.currentContext();
    appendLeaderEntry(r, EntryType.config, encodeConfigEntry({ config: next, context }));
    syncProgress(r, "changed");
  } else if (!config.voters.includes(r.id)) {
    // We were removed: tell everyone the commit, then step down (thesis §4.2.2).
    for (const [to, progress] of r.progress) sendAppend(r, to, progress, true);
    r.becomeFollower(r.term, null);
  }
}
