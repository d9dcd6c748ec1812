import { describe, expect, test } from "vitest";
import type { LocalSnapshot, StageRow } from "../../src/dashboard/observer.js";
import { NodeMetrics } from "../../src/metrics.js";
import { parseExposition, sampleValue, series } from "./prom.js";

/** A queue stage's row: `samples` batches in its percentile window (0: idle). */
function stage(name: string, samples: number): StageRow {
  return {
    kind: "queue",
    name,
    poolKind: "inline",
    poolSize: 1,
    queueDepth: 0,
    queueBytes: 0,
    queueCapacityItems: 10,
    queueCapacityBytes: null,
    fill: 0,
    accepted: 1,
    rejected: 0,
    processed: 1,
    batches: 1,
    errors: 0,
    throughputPerSec: 0,
    waitMsP50: 3,
    waitMsP99: 400,
    serviceMsP50: 2,
    serviceMsP99: 380,
    batchSizeP50: 1,
    batchSizeP99: 4,
    percentileSamples: samples,
    percentileWindowMs: 60_000,
    batchLimit: 8,
    utilisation: 0,
  };
}

function local(): LocalSnapshot {
  return {
    node: "n1",
    at: 0,
    uptimeSec: 1,
    eventLoopUtilisation: 0,
    stages: [stage("apply", 5), stage("respond", 0)],
    bottleneck: null,
    raft: {
      role: "leader",
      term: 2,
      leader: "n1",
      vote: "n1",
      commitIndex: 5,
      appliedIndex: 5,
      lastIndex: 5,
      firstIndex: 1,
      leadTransferee: null,
      checksum: 0,
      voters: ["n1"],
      learners: [],
      leaderChanges: 1,
      followersLostEntries: 0,
      catchUpIndex: 0,
      elections: { timeout: 2, leaderUnreachable: 1, transfer: 0 },
      followers: [],
    },
    ingress: {
      connections: 0,
      frames: 9,
      badFrames: 0,
      overloaded: 3,
      peerDropped: 7,
      unauthorized: 0,
      peerFrames: 0,
      peerRejected: 0,
      framesPerSec: 0,
    },
    wal: { groupCommits: 1, readies: 1, entries: 1, writes: 1, syncs: 1, sync: true },
    apply: {
      applied: 1,
      answered: 1,
      reads: 0,
      readsRefused: 0,
      readsDropped: 0,
      readsWaitFull: 0,
      readsWaiting: 0,
      timeouts: 0,
      snapshots: 0,
    },
    engines: null,
    links: [],
  };
}

describe("node metrics", () => {
  test("node metrics - an idle stage has no quantile samples, not stale ones", async () => {
    const metrics = new NodeMetrics(local, { node: "n1", defaultMetrics: false });
    const text = parseExposition(await metrics.render());
    for (const name of ["stageraft_stage_wait_seconds", "stageraft_stage_service_seconds"]) {
      expect(series(text, name, { stage: "respond" }), name).toEqual([]);
      expect(series(text, name, { stage: "apply" }), name).toHaveLength(2);
    }
    expect(
      sampleValue(text, "stageraft_stage_wait_seconds", { stage: "apply", quantile: "0.99" }),
    ).toBe(0.4);
  });

  test("node metrics - OVERLOADED answers and dropped peer messages are separate counters", async () => {
    const metrics = new NodeMetrics(local, { node: "n1", defaultMetrics: false });
    const text = parseExposition(await metrics.render());
    expect(sampleValue(text, "stageraft_client_overloaded_total")).toBe(3);
    expect(sampleValue(text, "stageraft_peer_messages_dropped_total")).toBe(7);
  });

  test("node metrics - elections started are counted by reason", async () => {
    const metrics = new NodeMetrics(local, { node: "n1", defaultMetrics: false });
    const text = parseExposition(await metrics.render());
    const started = (reason: string) =>
      sampleValue(text, "stageraft_raft_elections_started_total", { reason });
    expect(started("timeout")).toBe(2);
    expect(started("leader-unreachable")).toBe(1);
    expect(started("transfer")).toBe(0);
  });

  test("node metrics - the bounded queues of raft-step and apply are gauges (0 when not reported)", async () => {
    const queues = { readIndexWaiting: 4, forwardsWaiting: 5, readiesInWal: 6, outboxItems: 7 };
    const full = () => ({
      ...local(),
      raftStep: queues,
      apply: { ...local().apply, readsWaiting: 8 },
    });
    const text = parseExposition(
      await new NodeMetrics(full, { node: "n1", defaultMetrics: false }).render(),
    );
    expect(sampleValue(text, "stageraft_raft_step_read_index_waiting")).toBe(4);
    expect(sampleValue(text, "stageraft_raft_step_forwards_waiting")).toBe(5);
    expect(sampleValue(text, "stageraft_raft_step_readies_in_wal")).toBe(6);
    expect(sampleValue(text, "stageraft_raft_step_outbox_items")).toBe(7);
    expect(sampleValue(text, "stageraft_apply_reads_waiting")).toBe(8);
    const bare = parseExposition(
      await new NodeMetrics(local, { node: "n1", defaultMetrics: false }).render(),
    );
    expect(sampleValue(bare, "stageraft_raft_step_readies_in_wal")).toBe(0);
  });
});
