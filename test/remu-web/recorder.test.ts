import { describe, expect, it } from "vitest";
import { Cluster, type ClusterOptions } from "../../src/remu/cluster.js";
import { InvariantKind, InvariantViolation } from "../../src/remu/invariants.js";
import {
  exportRecording,
  type NodeSnapshot,
  type RecordedStep,
  type Recording,
} from "../../src/remu/recorder.js";
import { faultKinds, runEmulation } from "../../src/remu/run.js";

const options: ClusterOptions = {
  nodes: 3,
  seed: 7,
  raft: { electionTicks: 10, heartbeatTicks: 2 },
  snapshotEvery: 20,
  network: { dropRate: 0.05, latencyMaxMs: 12 },
};

/** A cluster under some load and faults, driven only through the event loop. */
function drive(cluster: Cluster, events: number): void {
  let k = 0;
  const load = () => {
    const leader = cluster.leaders()[0];
    if (leader !== undefined) cluster.propose(leader, `k${k % 5}=v${k}`);
    k++;
    if (k % 40 === 10) cluster.crash(`n${1 + (k % 3)}`);
    if (k % 40 === 25) for (const id of cluster.nodes.keys()) cluster.restart(id);
    if (k % 60 === 30) cluster.partition([["n1"], ["n2", "n3"]]);
    if (k % 60 === 45) cluster.heal();
    cluster.at(7, "client load", load);
  };
  cluster.at(7, "client load", load);
  while (cluster.stats.events < events && cluster.step()) {}
}

/** The state table's row for a node, read straight from the cluster. */
function observe(cluster: Cluster): Omit<NodeSnapshot, "id">[] {
  return [...cluster.nodes.values()].map((node) => {
    const raft = node.raft;
    if (raft === null) {
      return expect.objectContaining({ up: false, role: "down" }) as Omit<NodeSnapshot, "id">;
    }
    return {
      up: true,
      role: raft.status().role,
      term: raft.status().term,
      leader: raft.status().leader,
      commit: raft.status().commitIndex,
      applied: raft.status().appliedIndex,
      lastIndex: raft.log.lastIndex(),
      chk: node.stateMachine.appliedChk,
    };
  });
}

function withoutId(state: readonly NodeSnapshot[]): Omit<NodeSnapshot, "id">[] {
  return state.map(({ id: _id, ...rest }) => rest);
}

describe("remu recorder", () => {
  it("records one step per event, plus one for what happens outside the event loop", () => {
    const cluster = new Cluster({ ...options, record: true });
    drive(cluster, 3_000);
    const recorder = cluster.recorder!;
    const steps = recorder.steps();
    expect(cluster.stats.events).toBe(3_000);
    // Step 0 holds the construction (the nodes starting); then one step per event.
    expect(steps).toHaveLength(3_001);
    expect(recorder.total).toBe(3_001);
    expect(steps[0]!.kind).toBe("external");
    expect(steps[0]!.notes.filter((n) => n.kind === "start")).toHaveLength(3);
    expect(steps.slice(1).every((s) => s.kind !== "external")).toBe(true);
    steps.forEach((step, k) => {
      expect(step.index).toBe(k);
      expect(step.event).toBe(k);
    });
    // The messages it saw are the network's.
    const sent = steps.reduce((n, s) => n + s.sent.length, 0);
    const droppedAtSend = steps.reduce((n, s) => n + s.sent.filter((m) => m.dropped).length, 0);
    const lost = steps.filter((s) => s.delivery?.delivered === false).length;
    const delivered = steps.filter((s) => s.delivery?.delivered === true).length;
    expect(sent).toBe(cluster.network.stats.sent);
    expect(droppedAtSend + lost).toBe(cluster.network.stats.dropped);
    expect(delivered).toBe(cluster.network.stats.delivered);
    for (const step of steps) {
      if (step.kind !== "deliver") continue;
      const message = step.delivery!.message;
      expect(step.label).toBe(`deliver ${message.type} ${message.from}→${message.to}`);
      expect(message.sentStep).toBeLessThan(step.index);
      expect(steps[message.sentStep]!.sent).toContain(message);
    }
    expect(steps.some((s) => s.notes.some((n) => n.kind === "crash"))).toBe(true);
    expect(steps.some((s) => s.network !== "no partition")).toBe(true);
    expect(steps.some((s) => s.sent.some((m) => m.dropped))).toBe(true);
    // The last step's state is the cluster's now.
    expect(withoutId(steps.at(-1)!.state)).toEqual(observe(cluster));
  });

  it("keeps only the last `capacity` steps", () => {
    const cluster = new Cluster({ ...options, record: { capacity: 500 } });
    drive(cluster, 2_000);
    const recorder = cluster.recorder!;
    const steps = recorder.steps();
    expect(steps).toHaveLength(500);
    expect(recorder.total).toBe(2_001);
    expect(steps[0]!.index).toBe(1_501);
    expect(steps.at(-1)!.index).toBe(2_000);
    expect(recorder.at(1_500)).toBeUndefined();
    expect(recorder.at(1_501)).toBe(steps[0]);
    expect(withoutId(steps.at(-1)!.state)).toEqual(observe(cluster));
    const recording = exportRecording(recorder);
    expect(recording.first).toBe(1_501);
    expect(recording.steps).toHaveLength(500);
    // The first step kept carries every node's state and the network in full.
    expect(recording.steps[0]!.st).toHaveLength(3);
    expect(recording.steps[0]!.net).toBeDefined();
  });

  it("the state at a step is the cluster's at that step (the same seed replayed)", () => {
    const recorded = new Cluster({ ...options, record: true });
    drive(recorded, 4_000);
    const steps = recorded.recorder!.steps();
    // Steps where something changed, and a spread of others.
    const picks = steps.filter(
      (s, k) => k % 97 === 0 || (k > 0 && s.state !== steps[k - 1]!.state && k % 3 === 0),
    );
    expect(picks.length).toBeGreaterThan(100);
    const replay = new Cluster(options);
    drive(replay, 0);
    let compared = 0;
    for (const step of picks) {
      while (replay.stats.events < step.event) replay.step();
      expect(replay.now).toBe(step.time);
      expect(withoutId(step.state), `step #${step.index} (${step.label})`).toEqual(observe(replay));
      compared++;
    }
    expect(compared).toBe(picks.length);
    expect(replay.stats.events).toBeGreaterThan(3_900);
  });

  it("recording changes nothing about the run", () => {
    const plain = runEmulation({ nodes: 3, seed: 5, steps: 4_000, faults: faultKinds });
    const recorded = runEmulation({
      nodes: 3,
      seed: 5,
      steps: 4_000,
      faults: faultKinds,
      record: true,
    });
    expect(recorded.summary).toEqual(plain.summary);
    expect(plain.recording).toBeUndefined();
    const recording = recorded.recording!;
    expect(recording.format).toBe("remu-recording/1");
    expect(recording.meta.ok).toBe(true);
    expect(recording.failStep).toBeNull();
    // Every event is a step; so are the calls made outside the event loop (construction, the
    // liveness phase's healing and probes).
    const external = recording.steps.filter((row) => row.k === "external").length;
    expect(recording.first).toBe(0);
    expect(recording.total).toBe(Number(recorded.summary.events) + external);
    expect(recording.steps.at(-1)!.e).toBe(recorded.summary.events);
  });

  it("records the liveness phase to its end, its start marked", () => {
    const run = runEmulation({ nodes: 3, seed: 3, steps: 3_000, faults: faultKinds, record: true });
    expect(run.ok).toBe(true);
    const steps = run.recording!.steps;
    const phase = steps.findIndex((row) => row.f?.some(([kind]) => kind === "phase"));
    expect(phase, "a step marks the liveness phase").toBeGreaterThan(0);
    const notes = (from: number) => steps.slice(from).flatMap((row) => row.f ?? []);
    expect(notes(0).filter(([kind]) => kind === "phase")).toHaveLength(1);
    // After the mark: the healing, the restarts and the probe write that made the run pass.
    expect(notes(phase).some(([kind]) => kind === "heal")).toBe(true);
    expect(notes(phase).some(([, , text]) => text.includes("liveness=probe"))).toBe(true);
    expect(steps.at(-1)!.e).toBe(run.summary.events);
  });

  it("marks the step that broke an invariant", () => {
    const cluster = new Cluster({ ...options, record: true });
    cluster.runUntil(() => cluster.leaders().length === 1, 5_000);
    cluster.at(20, "the bug", () => {
      throw new InvariantViolation(InvariantKind.logMatching, "n1 and n2 disagree at 3");
    });
    expect(() => cluster.runFor(100)).toThrow(InvariantViolation);
    const recorder = cluster.recorder!;
    const failing = recorder.at(recorder.failStep!)!;
    expect(failing.label).toBe("the bug");
    expect(failing.error).toBe("InvariantViolation: log-matching: n1 and n2 disagree at 3");
    expect(failing.index).toBe(recorder.total - 1);
    const recording = exportRecording(recorder, { ok: false, failure: failing.error });
    expect(recording.failStep).toBe(failing.index);
    expect(recording.steps.at(-1)!.err).toBe(failing.error);
  });

  it("exports states as deltas that decode back to every step's state", () => {
    const cluster = new Cluster({ ...options, record: { capacity: 1_500 } });
    drive(cluster, 2_500);
    const steps = cluster.recorder!.steps();
    const recording = JSON.parse(JSON.stringify(exportRecording(cluster.recorder!))) as Recording;
    expect(recording.steps).toHaveLength(steps.length);
    let state: unknown[] = [];
    recording.steps.forEach((row, k) => {
      if (row.st) {
        state = state.slice();
        for (const [node, up, role, term, leader, commit, applied, lastIndex, chk] of row.st) {
          state[node] = {
            id: recording.nodes[node],
            up: up === 1,
            role,
            term,
            leader: leader === "" ? null : leader,
            commit,
            applied,
            lastIndex,
            chk,
          };
        }
      }
      expect(state, `step ${k}`).toEqual(steps[k]!.state);
      expect(row.t).toBeCloseTo(steps[k]!.time, 1);
    });
    const messages = new Map(recording.messages.map((m) => [m[0], m]));
    const sentRows = recording.steps.flatMap((row) => row.s ?? []);
    expect(new Set(sentRows).size).toBe(sentRows.length);
    for (const id of sentRows) expect(messages.has(id)).toBe(true);
    const delivered = steps.filter((s): s is RecordedStep & { delivery: object } => !!s.delivery);
    expect(recording.steps.filter((row) => row.r).length).toBe(delivered.length);
  });

  it("costs nothing when off", () => {
    const cluster = new Cluster(options);
    drive(cluster, 500);
    expect(cluster.recorder).toBeNull();
  });
});
