/** Proposals: entries, configuration changes (joint consensus) and leadership transfer. */
import type { RaftCore } from "./core.js";
import { appendLeaderEntry, sendAppend, syncProgress } from "./leader.js";
import { encodeConfigEntry } from "./membership.js";
import { isJoint } from "./quorum.js";
import {
  type ConfigChange,
  EntryType,
  type MembershipConfig,
  type NodeId,
  type ProposeResult,
} from "./types.js";

export function propose(r: RaftCore, data: Uint8Array): ProposeResult {
  const refusal = proposalRefusal(r);
  if (refusal) return refusal;
  if (r.uncommittedBytes > 0 && r.uncommittedBytes + data.length > r.config.maxUncommittedBytes) {
    return { ok: false, reason: "too-large", leader: r.leader };
  }
  const entry = appendLeaderEntry(r, EntryType.normal, data);
  return { ok: true, index: entry.index, term: entry.term };
}

/**
 * Joint consensus (thesis §4.3): a change of voters enters C_old,new, and the leader leaves
 * it for C_new as soon as C_old,new commits. Learner-only changes need no joint phase.
 */
export function proposeConfigChange(
  r: RaftCore,
  changes: readonly ConfigChange[],
  context = "",
): ProposeResult {
  const refusal = proposalRefusal(r);
  if (refusal) return refusal;
  const current = r.membership.current();
  if (
    r.commitIndex < r.termStartIndex ||
    r.membership.currentIndex() > r.commitIndex ||
    isJoint(current)
  ) {
    return { ok: false, reason: "config-pending", leader: r.leader };
  }
  const voters = new Set(current.voters);
  const learners = new Set(current.learners);
  for (const change of changes) {
    if (change.type === "addVoter") {
      if (learners.has(change.node) && !learnerCaughtUp(r, change.node)) {
        return { ok: false, reason: "learner-behind", leader: r.leader };
      }
      learners.delete(change.node);
      voters.add(change.node);
    } else if (change.type === "addLearner") {
      if (voters.has(change.node)) return { ok: false, reason: "config-invalid", leader: r.leader };
      learners.add(change.node);
    } else {
      voters.delete(change.node);
      learners.delete(change.node);
    }
  }
  if (voters.size === 0) return { ok: false, reason: "config-invalid", leader: r.leader };
  // Demoting a voter straight to learner would put it in both halves of the joint config.
  if (current.voters.some((id) => learners.has(id))) {
    return { ok: false, reason: "config-invalid", leader: r.leader };
  }
  const votersChanged =
    voters.size !== current.voters.length || current.voters.some((id) => !voters.has(id));
  const next: MembershipConfig = {
    voters: [...voters],
    outgoing: votersChanged ? current.voters : [],
    learners: [...learners],
  };
  const entry = appendLeaderEntry(
    r,
    EntryType.config,
    encodeConfigEntry({ config: next, context }),
  );
  syncProgress(r, "changed");
  return { ok: true, index: entry.index, term: entry.term };
}

/**
 * A learner is caught up once it replicates in the pipelined state (its log matched ours)
 * and is within learnerCatchUpEntries of our last index.
 */
export function learnerCaughtUp(r: RaftCore, id: NodeId): boolean {
  const progress = r.progress.get(id);
  return (
    progress !== undefined &&
    progress.state === "replicate" &&
    progress.matchIndex + r.config.learnerCatchUpEntries >= r.log.lastIndex()
  );
}

export function proposalRefusal(r: RaftCore): ProposeResult | null {
  if (r.role !== "leader") return { ok: false, reason: "not-leader", leader: r.leader };
  if (r.leadTransferee !== null) return { ok: false, reason: "transferring", leader: r.leader };
  return null;
}

/** Leadership transfer (thesis §3.10): catch `to` up, then TimeoutNow; abandoned after ET. */
export function transferLeadership(r: RaftCore, to: NodeId): ProposeResult {
  if (r.role !== "leader") return { ok: false, reason: "not-leader", leader: r.leader };
  if (to === r.id) return { ok: true, index: r.log.lastIndex(), term: r.term };
  const progress = r.progress.get(to);
  if (progress === undefined || !r.membership.current().voters.includes(to)) {
    return { ok: false, reason: "config-invalid", leader: r.leader };
  }
  r.leadTransferee = to;
  r.transferElapsed = 0;
  if (progress.matchIndex === r.log.lastIndex()) r.sendTimeoutNow(to);
  else sendAppend(r, to, progress, true);
  return { ok: true, index: r.log.lastIndex(), term: r.term };
}
