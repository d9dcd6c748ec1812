/** The output side: building a Ready from the outboxes, and advance() once it is durable. */
import { assert } from "./assert.js";
import type { RaftCore } from "./core.js";
import { broadcastAppend, broadcastHeartbeat, maybeCommit } from "./leader.js";
import type { Ready } from "./types.js";

export function hasReady(r: RaftCore): boolean {
  const hard = r.handedHardState;
  const soft = r.handedSoftState;
  return (
    r.messages.length > 0 ||
    r.persistedMessages.length > 0 ||
    r.readStates.length > 0 ||
    r.snapshotChunks.length > 0 ||
    r.snapshotToInstall !== null ||
    r.appendBroadcastPending ||
    r.heartbeatBroadcastPending ||
    r.log.lastIndex() > r.inProgressIndex ||
    r.applyableIndex() > r.applyingIndex ||
    hard.term !== r.term ||
    hard.vote !== r.vote ||
    hard.commit !== r.commitIndex ||
    soft.role !== r.role ||
    soft.leader !== r.leader
  );
}

export function ready(r: RaftCore): Ready {
  if (r.role === "leader") {
    if (r.appendBroadcastPending) {
      r.appendBroadcastPending = false;
      broadcastAppend(r);
    }
    if (r.heartbeatBroadcastPending) broadcastHeartbeat(r);
  }
  const lastIndex = r.log.lastIndex();
  const entries =
    lastIndex > r.inProgressIndex ? r.log.slice(r.inProgressIndex + 1, lastIndex) : [];
  r.inProgressIndex = lastIndex;
  const hard = r.hardState();
  const prevHard = r.handedHardState;
  const hardChanged =
    hard.term !== prevHard.term || hard.vote !== prevHard.vote || hard.commit !== prevHard.commit;
  r.handedHardState = hard;
  const soft = r.softState();
  const prevSoft = r.handedSoftState;
  const softChanged =
    soft.role !== prevSoft.role || soft.leader !== prevSoft.leader || soft.term !== prevSoft.term;
  r.handedSoftState = soft;
  const applyable = r.applyableIndex();
  const committed = applyable > r.applyingIndex ? r.log.slice(r.applyingIndex + 1, applyable) : [];
  r.applyingIndex = Math.max(r.applyingIndex, applyable);
  const ready: Ready = {
    softState: softChanged ? soft : null,
    hardState: hardChanged ? hard : null,
    entries,
    snapshot: r.snapshotToInstall,
    snapshotChunks: r.snapshotChunks,
    messages: r.messages,
    persistedMessages: r.persistedMessages,
    committed,
    readStates: r.readStates,
  };
  r.snapshotToInstall = null;
  r.snapshotChunks = [];
  r.messages = [];
  r.persistedMessages = [];
  r.readStates = [];
  return ready;
}

/** The owner made `ready` durable. Acks carry (index, term): a replaced entry's ack is void. */
export function advance(r: RaftCore, ready: Ready): void {
  if (ready.snapshot !== null) r.stableIndex = Math.max(r.stableIndex, ready.snapshot.index);
  const last = ready.entries.at(-1);
  if (last !== undefined && r.log.term(last.index) === last.term) {
    r.stableIndex = Math.max(r.stableIndex, Math.min(last.index, r.inProgressIndex));
  }
  if (r.role === "leader") maybeCommit(r);
}

/** The owner applied committed entries up to `index`. */
export function appliedTo(r: RaftCore, index: number): void {
  assert(index <= r.applyingIndex, `applied ${index} was never handed out (${r.applyingIndex})`);
  r.appliedIndex = Math.max(r.appliedIndex, index);
}
