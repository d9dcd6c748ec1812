/** Reads (thesis §6.4): ReadIndex rounds shared by many reads, and the leader lease. */
import { assert } from "./assert.js";
import type { RaftCore, ReadMode } from "./core.js";
import { committedIndex, isJoint, jointMajority } from "./quorum.js";
import type { NodeId } from "./types.js";

/**
 * Ask for a read index; the answer arrives in Ready.readStates under `ctx`. A follower
 * forwards to its leader. "lease" answers at once while the leader lease holds.
 */
export function readIndex(r: RaftCore, ctx: string, mode: ReadMode = "linearizable"): void {
  if (r.role === "leader") handleReadRequest(r, ctx, r.id, mode);
  else if (r.leader !== null) r.send({ type: "readIndex", to: r.leader, ctx });
  else r.readStates.push({ ctx, ok: false, index: 0 });
}

export function handleReadRequest(r: RaftCore, ctx: string, from: NodeId, mode: ReadMode): void {
  if (r.commitIndex < r.termStartIndex) {
    // Our commitIndex may be stale until an entry of our term commits (thesis §6.4 step 1).
    if (r.waitingReads.length >= r.config.maxPendingReads) r.answerRead(ctx, from, false, 0);
    else r.waitingReads.push({ ctx, from, mode });
    return;
  }
  if (mode === "lease" && leaseValid(r)) {
    r.answerRead(ctx, from, true, r.commitIndex);
    return;
  }
  const config = r.membership.current();
  if (!isJoint(config) && config.voters.length === 1 && config.voters[0] === r.id) {
    r.answerRead(ctx, from, true, r.commitIndex);
    return;
  }
  if (!r.readOnly.add(ctx, r.commitIndex, from)) {
    r.answerRead(ctx, from, false, 0);
    return;
  }
  // With a round out, this read rides the next one, sent when that round is confirmed (or
  // with the next periodic heartbeat, should the round be lost).
  if (!r.readOnly.roundInFlight) r.heartbeatBroadcastPending = true;
}

export function releaseReads(r: RaftCore): void {
  // The leader vouches only for rounds it sent: reads waiting for the next round are not
  // confirmed even where the leader alone is a quorum.
  const seq = committedIndex(r.membership.current(), (id) =>
    id === r.id ? r.readOnly.sentSeq : (r.progress.get(id)?.ackedReadSeq ?? 0),
  );
  for (const read of r.readOnly.release(seq)) r.answerRead(read.ctx, read.from, true, read.index);
  if (!r.readOnly.roundInFlight && r.readOnly.unsent) r.heartbeatBroadcastPending = true;
}

/**
 * The leader lease: a quorum echoed a message we sent at tick s, so none of them will vote
 * for another candidate before s + leaseTicks + drift on their clocks (inLeaderLease, even
 * when told we are gone). We trust it until s + leaseTicks.
 */
export function leaseValid(r: RaftCore): boolean {
  if (!r.config.checkQuorum || r.role !== "leader" || r.leadTransferee !== null) return false;
  if (r.commitIndex < r.termStartIndex || r.timeoutNowSent) return false;
  const quorumTick = jointMajority(r.membership.current(), (id) =>
    id === r.id ? r.tickCount : (r.progress.get(id)?.ackedSentTick ?? Number.NEGATIVE_INFINITY),
  );
  assert(quorumTick <= r.tickCount, `lease: a quorum echoed tick ${quorumTick}, not yet reached`);
  return quorumTick + r.config.leaseTicks > r.tickCount;
}
