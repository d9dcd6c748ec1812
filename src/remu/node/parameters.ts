import type { SeededRandom } from "../../../raft/rand.js";
import type { HostSettings } from "./host.js";
import type { NodeFaultKind, NodeRunOptions } from "./run.js";

/** A node-mode run's parameters, all drawn from its seed (printed with a failure). */
export function drawParameters(
  options: NodeRunOptions,
  random: SeededRandom,
): Record<string, number | string> {
  const has = (fault: NodeFaultKind) => options.faults.includes(fault);
  return {
    seed: options.seed,
    nodes: options.nodes,
    durationMs: options.durationMs,
    faults: options.faults.join(",") || "none",
    dropRate: has("drop") ? Math.round(random.float() * 100) / 1000 : 0,
    latencyMaxMs: has("reorder") ? 5 + random.int(30) : 3,
    partitionEveryMs: has("partition") ? 300 + random.int(1500) : 0,
    crashEveryMs: has("crash") ? 300 + random.int(1500) : 0,
    fsyncMaxMs: has("disk") ? 5 + random.int(40) : 0,
    // Power losses aimed at the moment a node is syncing, when the order of persist and
    // send matters most.
    crashInSyncRate: has("crash") && has("disk") ? 0.005 + random.int(20) / 1000 : 0,
    fsyncFailRate: has("disk") && random.chance(0.3) ? 0.002 : 0,
    tornWriteRate: has("disk") ? 0.5 : 0,
    queueItems: 4 + random.int(28),
    opEveryMs: 1 + random.int(8),
    clients: 4 + random.int(28),
    applyDelayMaxMs: random.chance(0.5) ? random.int(30) : 0,
    heartbeatTicks: 2 + random.int(2),
    maxInflight: 1 + random.int(8),
    maxAppendBytes: random.chance(0.3) ? 1 : 64 + random.int(1024),
    sessionTtlMs: 500 + random.int(3000),
    sessionExpireEvery: 4 + random.int(28),
    // Drawn last: the parameters above are the same with and without membership changes.
    membershipEveryMs: has("membership") ? 200 + random.int(600) : 0,
    segmentBytes: 256 + random.int(8192),
    leaseClients: leaseHolders(options, random),
  };
}

/** Lease holders (node/lease-clients.ts) in three runs of four; drawn even when given. */
function leaseHolders(options: NodeRunOptions, random: SeededRandom): number {
  const drawn = random.chance(0.75) ? 1 + random.int(4) : 0;
  return options.leaseClients ?? drawn;
}

/** What every node of a run gets (its stages' sizes, timings and sessions). */
export function hostSettings(p: Record<string, number | string>): HostSettings {
  return {
    raft: {
      electionTicks: 10,
      heartbeatTicks: Number(p.heartbeatTicks),
      maxInflight: Number(p.maxInflight),
      maxAppendBytes: Number(p.maxAppendBytes),
      preVote: true,
      checkQuorum: true,
    },
    tickMs: 10,
    queueItems: Number(p.queueItems),
    sessions: {
      ttlMs: Number(p.sessionTtlMs),
      window: 16,
      maxSessions: 1_000,
      expireEvery: Number(p.sessionExpireEvery),
    },
    requestTimeoutMs: 2_000,
    applyDelayMaxMs: Number(p.applyDelayMaxMs),
    segmentBytes: Number(p.segmentBytes),
  };
}
