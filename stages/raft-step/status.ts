import type { Logger } from "pino";
import type { RaftStatus } from "../../raft/node.js";
import type { Ready } from "../../raft/types.js";

/** The contract's status fields (also the start of /health). */
export function contractStatus(status: RaftStatus): Record<string, unknown> {
  const members = [
    ...new Set([...status.config.voters, ...status.config.outgoing, ...status.config.learners]),
  ];
  // The contract's roles: a pre-candidate is a candidate; a non-voting member is a learner.
  const role =
    status.role === "precandidate"
      ? "candidate"
      : status.role === "follower" && status.config.learners.includes(status.id)
        ? "learner"
        : status.role;
  return {
    name: status.id,
    role,
    term: status.term,
    leader: status.leader,
    commitIndex: status.commitIndex,
    appliedIndex: status.appliedIndex,
    members,
    // Storage faults (issue #10): see docs/raft.md, "Lost entries".
    followersLostEntries: status.followersLostEntries,
    catchUpIndex: status.catchUpIndex,
  };
}

/**
 * A node whose applied index is more than this many entries behind its commit index is not
 * ready (/readyz): it is catching up (a snapshot's worth at raft.snapshotEvery's default),
 * not briefly behind under load (the apply stage holds fewer than this in flight).
 */
export const readyApplyLag = 10_000;

/** CONTRACT §7's readiness: /readyz 200 when `ready`; else 503 with the `reason`. */
export interface Readiness {
  readonly ready: boolean;
  /** Why not ready; "" when ready. */
  readonly reason: string;
}

/**
 * Ready: a member of the configuration (a voter or a learner), not removed, with a known
 * leader, whose storage holds what it acknowledged (catchUpIndex 0: docs/raft.md, "Lost
 * entries") and whose applied index is within `readyApplyLag` of its commit index. The first
 * rule a node fails is its reason.
 */
export function readiness(status: RaftStatus, removed: boolean): Readiness {
  const { config } = status;
  const member =
    config.voters.includes(status.id) ||
    config.outgoing.includes(status.id) ||
    config.learners.includes(status.id);
  if (removed) return notReady("this member has been removed from the cluster");
  if (!member) return notReady("not a member of the configuration (not added, or removed)");
  if (status.catchUpIndex > 0)
    return notReady(
      `storage lost synced writes: catching up to index ${status.catchUpIndex} (docs/raft.md, "Lost entries")`,
    );
  if (status.leader === null) return notReady("no known leader");
  const lag = status.commitIndex - status.appliedIndex;
  if (lag > readyApplyLag)
    return notReady(
      `applied index ${status.appliedIndex} is ${lag} entries behind the commit index ${status.commitIndex} (more than ${readyApplyLag})`,
    );
  return { ready: true, reason: "" };
}

function notReady(reason: string): Readiness {
  return { ready: false, reason };
}

/** What raft-step logs of the core's life: role changes, followers that lost entries. */
export class CoreEvents {
  private lastRole: string;
  /** followersLostEntries already logged. */
  private lostEntriesLogged = 0;

  constructor(
    private readonly group: number,
    private readonly status: () => RaftStatus,
    private readonly log: Logger,
  ) {
    this.lastRole = status().role;
  }

  /** The core found a follower short of entries it had acknowledged: say so (it repairs it). */
  noteLostEntries(): void {
    const status = this.status();
    if (status.followersLostEntries === this.lostEntriesLogged) return;
    this.lostEntriesLogged = status.followersLostEntries;
    const lost = status.lastLostEntries;
    this.log.warn(
      {
        group: this.group,
        term: status.term,
        index: lost?.matchIndex,
        follower: lost?.peer,
        followerIndex: lost?.lastIndex,
      },
      "a follower lost entries it had acknowledged (its storage lost synced writes); replicating them again",
    );
  }

  /** A Ready with a soft state: log a new role (and every leader's Ready that says so). */
  roleChange(ready: Ready): void {
    const soft = ready.softState!;
    if (soft.role === this.lastRole && soft.role !== "leader") return;
    this.lastRole = soft.role;
    const status = this.status();
    this.log.info(
      {
        group: this.group,
        term: soft.term,
        index: ready.entries.at(-1)?.index ?? status.lastIndex,
        role: soft.role,
        leader: soft.leader,
        // Why this node's latest election started: timeout, leaderUnreachable or transfer.
        ...(soft.role === "follower" ? {} : { electionReason: status.lastElectionReason }),
      },
      soft.role === "leader" ? "became leader" : `now ${soft.role}`,
    );
  }
}
