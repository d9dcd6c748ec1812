import type { RaftSettings } from "../../raft/mod.js";
import type { NetworkFaults } from "./network.js";
import type { RecorderOptions } from "./recorder.js";

export interface ClusterOptions {
  /** Voters of the initial configuration. */
  readonly nodes: number;
  readonly seed: number;
  readonly raft?: Partial<RaftSettings>;
  /** Virtual milliseconds per tick. */
  readonly tickMs?: number;
  /** Each node's clock runs up to this fraction fast or slow (tests the lease's drift margin). */
  readonly clockDrift?: number;
  readonly diskLatencyMs?: readonly [number, number];
  /** Snapshot and compact every this many applied entries (0: never). */
  readonly snapshotEvery?: number;
  readonly retainEntries?: number;
  readonly network?: Partial<NetworkFaults>;
  readonly traceCapacity?: number;
  /**
   * Record every step (its messages, faults and every node's state after it) for the web view:
   * `true` keeps the last 20 000 steps, `{ capacity }` sets how many. Off by default, and then
   * it costs nothing.
   */
  readonly record?: boolean | RecorderOptions;
}

/** The options a Cluster runs with: the defaults filled in (network and record stay apart). */
export type ClusterSettings = Required<Omit<ClusterOptions, "network" | "record">>;

export function clusterSettings(options: ClusterOptions): ClusterSettings {
  return {
    raft: {},
    tickMs: 10,
    clockDrift: 0,
    diskLatencyMs: [0, 2],
    snapshotEvery: 0,
    retainEntries: 0,
    traceCapacity: 400,
    ...options,
  };
}
