import type { MembershipConfig, NodeId } from "./types.js";

export type VoteResult = "won" | "lost" | "pending";

/**
 * The largest index acknowledged by a majority of `voters`. An empty set does not
 * constrain a joint decision, so it answers +Infinity (the other half decides).
 */
export function majorityIndex(
  voters: readonly NodeId[],
  ackedIndex: (id: NodeId) => number,
): number {
  if (voters.length === 0) return Number.POSITIVE_INFINITY;
  const acked = voters.map(ackedIndex).sort((a, b) => b - a);
  const quorum = Math.floor(voters.length / 2) + 1;
  return acked[quorum - 1] ?? 0;
}

/** Joint consensus: a value counts only when both majorities reach it. */
export function jointMajority(config: MembershipConfig, acked: (id: NodeId) => number): number {
  return Math.min(majorityIndex(config.voters, acked), majorityIndex(config.outgoing, acked));
}

/** The highest index replicated on a joint majority (0 for a config without voters). */
export function committedIndex(
  config: MembershipConfig,
  ackedIndex: (id: NodeId) => number,
): number {
  const index = jointMajority(config, ackedIndex);
  return index === Number.POSITIVE_INFINITY ? 0 : index;
}

function majorityVote(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.length === 0) return "won";
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === undefined) missing++;
    else if (vote) granted++;
  }
  const quorum = Math.floor(voters.length / 2) + 1;
  if (granted >= quorum) return "won";
  if (granted + missing >= quorum) return "pending";
  return "lost";
}

export function voteResult(
  config: MembershipConfig,
  votes: ReadonlyMap<NodeId, boolean>,
): VoteResult {
  const incoming = majorityVote(config.voters, votes);
  const outgoing = majorityVote(config.outgoing, votes);
  if (incoming === "won" && outgoing === "won") return "won";
  if (incoming === "lost" || outgoing === "lost") return "lost";
  return "pending";
}

export function isVoter(config: MembershipConfig, id: NodeId): boolean {
  return config.voters.includes(id) || config.outgoing.includes(id);
}

export function isJoint(config: MembershipConfig): boolean {
  return config.outgoing.length > 0;
}

/** Every node the leader replicates to: voters of both halves and learners, once each. */
export function allMembers(config: MembershipConfig): NodeId[] {
  return [...new Set([...config.voters, ...config.outgoing, ...config.learners])];
}
