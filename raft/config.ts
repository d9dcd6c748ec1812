import { assert } from "./assert.js";
import type { GroupId, MembershipConfig, NodeId } from "./types.js";

/** Settings of one Raft group on one node. Times are in ticks: the core has no clock. */
export interface RaftConfig {
  readonly id: NodeId;
  readonly group: GroupId;
  /** The membership a brand-new cluster starts with; empty for a node that joins later. */
  readonly initialConfig: MembershipConfig;
  /** Election timeout ET; followers draw theirs uniformly from [ET, 2ET). */
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /** Bytes of entries per AppendEntries (at least one entry is always sent). */
  readonly maxAppendBytes: number;
  /** Unacknowledged AppendEntries per follower in the replicate state (pipelining). */
  readonly maxInflight: number;
  /** The leader refuses proposals while this many bytes are uncommitted. */
  readonly maxUncommittedBytes: number;
  readonly snapshotChunkBytes: number;
  /**
   * The leader lease: after a quorum echoed a message sent at tick s, lease reads are answered
   * until s + leaseTicks. Followers promise not to vote for anyone else before
   * leaseTicks + leaseDriftTicks after hearing from their leader — even one told it is gone
   * (peerUnreachable) — so a short lease lets a crashed leader be replaced that much sooner.
   */
  readonly leaseTicks: number;
  /** The followers' promise outlasts the lease by this many ticks: a margin for clock drift. */
  readonly leaseDriftTicks: number;
  /** A learner is promoted only when its matchIndex is within this of the leader's log. */
  readonly learnerCatchUpEntries: number;
  readonly maxPendingReads: number;
}

export const defaultRaftSettings = {
  electionTicks: 10,
  heartbeatTicks: 1,
  preVote: true,
  checkQuorum: true,
  maxAppendBytes: 1 << 20,
  maxInflight: 256,
  maxUncommittedBytes: 64 << 20,
  snapshotChunkBytes: 1 << 20,
  leaseTicks: 2,
  leaseDriftTicks: 2,
  learnerCatchUpEntries: 100,
  maxPendingReads: 65_536,
} as const;

export type RaftSettings = Omit<RaftConfig, "id" | "group" | "initialConfig">;

export function raftConfig(
  base: Pick<RaftConfig, "id" | "group" | "initialConfig">,
  settings: Partial<RaftSettings> = {},
): RaftConfig {
  const config = { ...defaultRaftSettings, ...settings, ...base };
  validateRaftConfig(config);
  return config;
}

/** Relationships between settings are checked once, here (etcd's Config.validate). */
export function validateRaftConfig(config: RaftConfig): void {
  assert(config.id.length > 0, "raft config: id must be non-empty");
  assert(config.heartbeatTicks >= 1, "raft config: heartbeatTicks must be >= 1");
  assert(
    config.electionTicks > config.heartbeatTicks,
    "raft config: electionTicks must be greater than heartbeatTicks",
  );
  assert(
    config.leaseDriftTicks >= 0 && config.leaseDriftTicks < config.electionTicks,
    "raft config: leaseDriftTicks must be in [0, electionTicks)",
  );
  assert(
    config.leaseTicks >= 1 && config.leaseTicks + config.leaseDriftTicks <= config.electionTicks,
    "raft config: leaseTicks must be >= 1 and leaseTicks + leaseDriftTicks <= electionTicks",
  );
  assert(config.maxInflight >= 1, "raft config: maxInflight must be >= 1");
  assert(config.maxAppendBytes >= 1, "raft config: maxAppendBytes must be >= 1");
  assert(config.snapshotChunkBytes >= 1, "raft config: snapshotChunkBytes must be >= 1");
  assert(config.maxPendingReads >= 1, "raft config: maxPendingReads must be >= 1");
  assertValidMembership(config.initialConfig);
}

export function assertValidMembership(config: MembershipConfig): void {
  const voters = new Set([...config.voters, ...config.outgoing]);
  for (const learner of config.learners) {
    assert(!voters.has(learner), `membership: ${learner} is both voter and learner`);
  }
  assert(new Set(config.voters).size === config.voters.length, "membership: duplicate voter");
  assert(new Set(config.learners).size === config.learners.length, "membership: duplicate learner");
}
