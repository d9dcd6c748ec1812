/** A follower's step: appends and heartbeats from the leader, transfers, forwarded reads. */
import { assert } from "./assert.js";
import type { RaftCore } from "./core.js";
import { startElection } from "./election.js";
import { handleSnapshot } from "./snapshot.js";
import type { AppendEntries, Heartbeat, Message } from "./types.js";

export function stepFollower(r: RaftCore, m: Message): void {
  switch (m.type) {
    case "append":
    case "heartbeat":
    case "snapshot":
      r.leader = m.from;
      if (r.earlyCampaign) r.resetTimers(); // a leader speaks after all: a full timeout again
      r.electionElapsed = 0;
      r.leaderContact();
      if (m.type === "append") handleAppend(r, m);
      else if (m.type === "snapshot") handleSnapshot(r, m);
      else {
        r.commitTo(Math.min(m.leaderCommit, r.log.lastIndex()));
        maybeReportLostEntries(r, m);
        r.send({
          type: "heartbeatResp",
          to: m.from,
          readSeq: m.readSeq,
          sentTick: m.sentTick,
        });
      }
      return;
    case "timeoutNow":
      startElection(r, "transfer", "transfer");
      return;
    case "readIndex":
      r.send({ type: "readIndexResp", to: m.from, ctx: m.ctx, ok: false, index: 0 });
      return;
    case "readIndexResp":
      r.readStates.push({ ctx: m.ctx, ok: m.ok, index: m.index });
      return;
    default:
      return; // stale responses from an earlier role
  }
}

export function handleAppend(r: RaftCore, m: AppendEntries): void {
  if (m.prevLogIndex < r.commitIndex) {
    r.ackCommitted(m.from, m.sentTick);
    return;
  }
  if (!r.log.matchTerm(m.prevLogIndex, m.prevLogTerm)) {
    const hint = r.log.findConflictByTerm(
      Math.min(m.prevLogIndex, r.log.lastIndex()),
      m.prevLogTerm,
    );
    r.send({
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
  const firstWritten = r.log.appendFromLeader(m.entries);
  if (firstWritten !== undefined) {
    assert(firstWritten > r.commitIndex, `append would overwrite committed index ${firstWritten}`);
    r.logChangedFrom(firstWritten);
  }
  const lastNewIndex = m.prevLogIndex + m.entries.length;
  assert(lastNewIndex <= r.log.lastIndex(), `append: acked ${lastNewIndex} beyond the log`);
  r.commitTo(Math.min(m.leaderCommit, lastNewIndex));
  r.send({
    type: "appendResp",
    to: m.from,
    reject: false,
    index: lastNewIndex,
    hintIndex: 0,
    hintTerm: 0,
    sentTick: m.sentTick,
  });
}

/**
 * The leader sends min(commit, our matchIndex): beyond our log, we lost entries we had
 * acknowledged. Say so as a rejection at that index with our last entry as the hint —
 * the leader then probes from there (Progress.maybeLostEntries).
 */
export function maybeReportLostEntries(r: RaftCore, m: Heartbeat): void {
  const lastIndex = r.log.lastIndex();
  if (m.leaderCommit <= lastIndex) return;
  r.send({
    type: "appendResp",
    to: m.from,
    reject: true,
    index: m.leaderCommit,
    hintIndex: lastIndex,
    hintTerm: r.log.term(lastIndex) ?? 0,
    sentTick: m.sentTick,
  });
}
