/**
 * Elections (§5.2, thesis §9.6 pre-vote): campaigning, answering votes, counting them. The
 * candidate's step and the follower's and candidate's tick (the election timer) live here.
 */
import {
  type CampaignKind,
  type ElectionReason,
  type RaftCore,
  unreachableCampaignTicksMax,
} from "./core.js";
import { voteResult } from "./quorum.js";
import type { Message, NodeId, VoteRequest, VoteResponse } from "./types.js";

/** Start an election now (tests, and the owner's explicit campaign). */
export function campaign(r: RaftCore, kind: CampaignKind): void {
  if (!r.promotable()) return;
  if (kind === "pre") {
    r.becomePreCandidate();
  } else {
    r.becomeCandidate();
  }
  r.votes = new Map([[r.id, true]]);
  if (checkVotes(r)) return;
  const config = r.membership.current();
  for (const peer of new Set([...config.voters, ...config.outgoing])) {
    if (peer !== r.id) requestVote(r, peer, kind);
  }
}

function requestVote(r: RaftCore, peer: NodeId, kind: CampaignKind): void {
  r.send({
    type: "vote",
    to: peer,
    term: kind === "pre" ? r.term + 1 : r.term,
    pre: kind === "pre",
    lastLogIndex: r.log.lastIndex(),
    lastLogTerm: r.log.lastTerm(),
    transfer: kind === "transfer",
  });
}

export function handleVoteRequest(r: RaftCore, m: VoteRequest): void {
  if (r.catchingUp()) {
    r.send({ type: "voteResp", to: m.from, pre: m.pre, granted: false });
    return;
  }
  if (refusesRival(r, m)) {
    // The rival may have ignored our pre-vote while it still kept its lease: ask again.
    r.send({ type: "voteResp", to: m.from, pre: true, granted: false });
    if (!r.votes.has(m.from)) requestVote(r, m.from, "pre");
    return;
  }
  const canVote =
    r.vote === m.from || (r.vote === null && r.leader === null) || (m.pre && m.term > r.term);
  if (canVote && r.log.isUpToDate(m.lastLogIndex, m.lastLogTerm)) {
    r.send({
      type: "voteResp",
      to: m.from,
      term: m.pre ? m.term : r.term,
      pre: m.pre,
      granted: true,
    });
    if (!m.pre) {
      r.vote = m.from;
      r.electionElapsed = 0;
    }
    // Another runs the early campaign we were about to: let it (a full timeout if it fails).
    if (r.earlyCampaign) r.resetTimers();
  } else {
    r.send({ type: "voteResp", to: m.from, pre: m.pre, granted: false });
  }
}

/**
 * Followers told at the same moment that their leader is gone may pre-campaign at once, grant
 * each other's pre-votes and split the real vote. So a node in such an early pre-campaign
 * grants a rival's pre-vote only if the rival's log is further ahead, or as far and its id
 * lower: the lowest id of equals wins, and it asks the rival again (the rival may have
 * ignored its first request while it still kept its lease). Any rule is safe for pre-votes
 * (they decide nothing); this one always leaves one pre-candidate that its rivals grant.
 */
function refusesRival(r: RaftCore, m: VoteRequest): boolean {
  return (
    m.pre &&
    r.role === "precandidate" &&
    r.lastElectionReason === "leaderUnreachable" &&
    m.lastLogTerm === r.log.lastTerm() &&
    m.lastLogIndex === r.log.lastIndex() &&
    m.from > r.id
  );
}

export function handleVoteResponse(r: RaftCore, m: VoteResponse): void {
  if (m.pre !== (r.role === "precandidate")) return;
  r.votes.set(m.from, m.granted);
  checkVotes(r);
}

/** Returns true when the election ended (won or lost). */
export function checkVotes(r: RaftCore): boolean {
  const result = voteResult(r.membership.current(), r.votes);
  if (result === "won") {
    if (r.role === "precandidate") campaign(r, "real");
    else r.becomeLeader();
    return true;
  }
  if (result === "lost") {
    r.becomeFollower(r.term, null);
    return true;
  }
  return false;
}

export function tickElection(r: RaftCore): void {
  r.electionElapsed++;
  if (r.promotable() && r.electionElapsed >= r.randomizedElectionTicks) {
    const reason = r.earlyCampaign ? "leaderUnreachable" : "timeout";
    r.electionElapsed = 0;
    startElection(r, reason, r.config.preVote ? "pre" : "real");
  }
}

/** An election this node starts on its own: counted by reason. */
export function startElection(r: RaftCore, reason: ElectionReason, kind: CampaignKind): void {
  if (!r.promotable()) return;
  r.elections[reason]++;
  r.lastElectionReason = reason;
  campaign(r, kind);
}

/**
 * The owner's transport found `id`'s process gone: the link closed and a reconnect was
 * refused (nothing listens on its port), which a partition that drops packets or a live
 * process does not cause (a firewall that rejects with a reset does). A follower whose leader
 * that is stops waiting out the election timeout: it campaigns within
 * 1..unreachableCampaignTicksMax ticks (from the seed, so that followers told at once do not
 * split the vote) — but never before the promise behind the leader lease has run out
 * (leaseTicks + leaseDriftTicks since it last heard from it, inLeaderLease): if the signal
 * was wrong and that leader lives, it may serve lease reads until then. A follower not told (a
 * link reset only one follower saw) keeps its full lease and ignores the pre-vote, so one
 * flapping link cannot depose a live leader.
 */
export function peerUnreachable(r: RaftCore, id: NodeId): void {
  if (r.role !== "follower" || r.leader !== id) return;
  r.leader = null;
  const delayTicks = 1 + r.random.int(unreachableCampaignTicksMax);
  const promiseLeft = Math.max(0, r.leasePromiseTicks() - r.ticksSinceLeaderContact);
  r.randomizedElectionTicks = Math.min(
    r.randomizedElectionTicks,
    r.electionElapsed + Math.max(delayTicks, promiseLeft),
  );
  r.earlyCampaign = true;
  r.leaderGone = true;
}

export function stepCandidate(r: RaftCore, m: Message): void {
  switch (m.type) {
    case "append":
    case "heartbeat":
    case "snapshot":
      r.becomeFollower(r.term, m.from);
      r.stepFn(r, m); // now the follower's
      return;
    case "voteResp":
      handleVoteResponse(r, m);
      return;
    case "readIndexResp":
      r.readStates.push({ ctx: m.ctx, ok: m.ok, index: m.index });
      return;
    case "readIndex":
      r.send({ type: "readIndexResp", to: m.from, ctx: m.ctx, ok: false, index: 0 });
      return;
    default:
      return;
  }
}

export function rejectStaleTerm(r: RaftCore, m: Message): void {
  if (
    (r.config.checkQuorum || r.config.preVote) &&
    (m.type === "append" || m.type === "heartbeat")
  ) {
    // Tell a stale leader our term so that it steps down.
    r.send({
      type: "appendResp",
      to: m.from,
      reject: true,
      index: 0,
      hintIndex: 0,
      hintTerm: 0,
      sentTick: 0,
    });
  } else if (m.type === "vote" && m.pre) {
    r.send({ type: "voteResp", to: m.from, pre: true, granted: false });
  }
}
