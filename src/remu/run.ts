import { AssertionError, SeededRandom } from "../../raft/mod.js";
import { Cluster } from "./cluster.js";
import type { FaultKind } from "./faults.js";
import { InvariantViolation } from "./invariants.js";
import { exportRecording, type RecorderOptions, type Recording } from "./recorder.js";

export type { FaultKind } from "./faults.js";
export { faultKinds } from "./faults.js";

export interface RunOptions {
  readonly nodes: number;
  readonly seed: number;
  /** Events of the safety phase. */
  readonly steps: number;
  readonly faults: readonly FaultKind[];
  /** Virtual ms the liveness phase may take to elect a leader and commit a write everywhere. */
  readonly livenessMs?: number;
  readonly verbose?: boolean;
  /** Called with the cluster when the run ends, to inspect its final state. */
  readonly inspect?: (cluster: Cluster) => void;
  /** Record the run's steps for the web view (RunResult.recording); see ClusterOptions.record. */
  readonly record?: boolean | RecorderOptions;
}

/** One exit code per failure class, as the VOPR does. */
export const ExitCode = { ok: 0, invariant: 2, liveness: 3, assertion: 4, crash: 5 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The exit code of a run that threw `error`: a violated invariant, a failed assertion, or a crash. */
export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof InvariantViolation) return ExitCode.invariant;
  return error instanceof AssertionError ? ExitCode.assertion : ExitCode.crash;
}

export interface RunResult {
  readonly ok: boolean;
  readonly exitCode: ExitCode;
  readonly failure: string | null;
  readonly parameters: Record<string, unknown>;
  readonly summary: Record<string, unknown>;
  readonly trace: readonly string[];
  /** The recorded steps, when RunOptions.record was set. */
  readonly recording?: Recording;
}

/**
 * A randomised emulation: a safety phase of `steps` events under the chosen faults with a
 * client load, then a liveness phase with every fault healed. All parameters come from the seed.
 */
export function runEmulation(options: RunOptions): RunResult {
  const random = new SeededRandom(options.seed);
  const has = (fault: FaultKind) => options.faults.includes(fault);
  const parameters = {
    seed: options.seed,
    nodes: options.nodes,
    steps: options.steps,
    faults: options.faults.join(",") || "none",
    dropRate: has("drop") ? round(random.float() * 0.2) : 0,
    duplicateRate: has("duplicate") ? round(random.float() * 0.1) : 0,
    latencyMaxMs: has("reorder") ? 5 + random.int(40) : 3,
    longDelayRate: has("reorder") ? round(random.float() * 0.05) : 0,
    partitionEveryMs: has("partition") ? 200 + random.int(1500) : 0,
    crashEveryMs: has("crash") ? 200 + random.int(2000) : 0,
    snapshotEvery: has("snapshot") ? 5 + random.int(60) : 0,
    transferEveryMs: has("transfer") ? 300 + random.int(2000) : 0,
    membershipEveryMs: has("membership") ? 300 + random.int(2000) : 0,
    clockDrift: has("lease") ? round(random.float() * 0.08) : 0,
    proposeEveryMs: 2 + random.int(20),
    readEveryMs: 5 + random.int(30),
    electionTicks: 10,
    heartbeatTicks: 2 + random.int(2),
    maxInflight: 1 + random.int(8),
    // Sometimes one entry per AppendEntries: a new leader's no-op then travels apart from the
    // older entries, which is what it takes for a Figure 8 commit bug to show.
    maxAppendBytes: random.chance(0.3) ? 1 : 16 + random.int(256),
    diskLatencyMaxMs: random.chance(0.3) ? 20 : 3,
    maxUncommittedBytes: 256 + random.int(8192),
  };
  const cluster = new Cluster({
    nodes: options.nodes,
    seed: random.next32(),
    raft: {
      electionTicks: parameters.electionTicks,
      heartbeatTicks: parameters.heartbeatTicks,
      maxInflight: parameters.maxInflight,
      maxAppendBytes: parameters.maxAppendBytes,
      maxUncommittedBytes: parameters.maxUncommittedBytes,
      snapshotChunkBytes: 64,
      leaseDriftTicks: 2,
    },
    tickMs: 10,
    clockDrift: parameters.clockDrift,
    diskLatencyMs: [0, parameters.diskLatencyMaxMs],
    snapshotEvery: parameters.snapshotEvery,
    retainEntries: random.int(5),
    network: {
      dropRate: parameters.dropRate,
      duplicateRate: parameters.duplicateRate,
      latencyMinMs: 1,
      latencyMaxMs: parameters.latencyMaxMs,
      longDelayRate: parameters.longDelayRate,
      longDelayMaxMs: 500,
    },
    ...(options.record ? { record: options.record } : {}),
  });
  if (options.verbose) cluster.trace.sink = (line) => process.stdout.write(`${line}\n`);
  const ids = [...cluster.nodes.keys()];
  const driver = new FaultDriver(cluster, random, ids, parameters);
  let failure: string | null = null;
  let exitCode: ExitCode = ExitCode.ok;
  try {
    driver.start();
    const startEvents = cluster.stats.events;
    while (cluster.stats.events - startEvents < options.steps && cluster.step()) {}
    driver.stop();
    cluster.recorder?.note("phase", null, "liveness phase: faults healed, all restarted");
    if (!livenessPhase(cluster, ids, options.livenessMs ?? 30_000)) {
      exitCode = ExitCode.liveness;
      failure = `liveness: no leader committed a write on every node within ${options.livenessMs ?? 30_000}ms after healing`;
    }
  } catch (error) {
    exitCode = exitCodeFor(error);
    failure = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  }
  if (failure !== null) cluster.recorder?.markFailure(failure);
  options.inspect?.(cluster);
  const summary = {
    virtualMs: Math.round(cluster.now),
    events: cluster.stats.events,
    elections: cluster.stats.elections,
    maxTerm: Math.max(0, ...cluster.upNodes().map((node) => node.raft!.status().term)),
    committed: cluster.checker.maxCommittedIndex,
    acked: cluster.stats.acked,
    reads: cluster.stats.reads,
    snapshots: cluster.stats.snapshots,
    snapshotsInstalled: cluster.stats.snapshotsInstalled,
    crashes: cluster.stats.crashes,
    messages: { ...cluster.network.stats },
    invariantChecks: cluster.checker.checks,
    chkAtCommit: cluster.checker.committedAt(cluster.checker.maxCommittedIndex)?.chk ?? 0,
  };
  const result: RunResult = {
    ok: failure === null,
    exitCode,
    failure,
    parameters,
    summary,
    trace: failure ? cluster.trace.lines() : [],
  };
  if (cluster.recorder === null) return result;
  const recording = exportRecording(cluster.recorder, {
    title: `remu seed ${options.seed} (${options.nodes} nodes)`,
    ok: result.ok,
    exitCode,
    failure,
    parameters,
    summary,
  });
  return { ...result, recording };
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** Heal everything, restart everyone, and demand progress. */
function livenessPhase(cluster: Cluster, ids: readonly string[], maxMs: number): boolean {
  cluster.heal();
  cluster.setNetwork({ dropRate: 0, duplicateRate: 0, longDelayRate: 0 });
  for (const id of ids) cluster.restart(id);
  const deadline = cluster.now + maxMs;
  while (cluster.now < deadline) {
    const leader = cluster.leaders()[0];
    if (leader === undefined) {
      cluster.runFor(50);
      continue;
    }
    let appliedEverywhere = false;
    const result = cluster.propose(leader, "liveness=probe");
    if (!result.ok) {
      cluster.runFor(50);
      continue;
    }
    // Nodes removed from the configuration no longer receive entries.
    const config = cluster.raft(leader)!.membership.current();
    const members = new Set([...config.voters, ...config.outgoing, ...config.learners]);
    cluster.runUntil(
      () => {
        appliedEverywhere = cluster
          .upNodes()
          .filter((node) => members.has(node.id))
          .every((node) => node.raft!.status().appliedIndex >= result.index);
        return appliedEverywhere;
      },
      Math.min(2000, deadline - cluster.now),
    );
    const committed = cluster.checker.committedAt(result.index);
    if (appliedEverywhere && committed?.term === result.term) return true;
  }
  return false;
}

/** Drives the client load and the faults of a run on the virtual clock. */
class FaultDriver {
  private running = false;
  private keyCounter = 0;

  constructor(
    private readonly cluster: Cluster,
    private readonly random: SeededRandom,
    private readonly ids: readonly string[],
    private readonly parameters: {
      proposeEveryMs: number;
      readEveryMs: number;
      partitionEveryMs: number;
      crashEveryMs: number;
      transferEveryMs: number;
      membershipEveryMs: number;
      clockDrift: number;
    },
  ) {}

  start(): void {
    this.running = true;
    const p = this.parameters;
    this.every(p.proposeEveryMs, "client propose", () => this.propose());
    this.every(p.readEveryMs, "client read", () => this.read());
    if (p.partitionEveryMs > 0)
      this.every(p.partitionEveryMs, "fault: partition", () => this.partition());
    if (p.crashEveryMs > 0) this.every(p.crashEveryMs, "fault: crash", () => this.crash());
    if (p.transferEveryMs > 0) {
      this.every(p.transferEveryMs, "fault: transfer", () => this.transfer());
    }
    if (p.membershipEveryMs > 0) {
      this.every(p.membershipEveryMs, "fault: membership", () => this.changeMembership());
    }
  }

  stop(): void {
    this.running = false;
  }

  private every(meanMs: number, label: string, action: () => void): void {
    const delay = 1 + this.random.int(2 * meanMs);
    this.cluster.at(delay, label, () => {
      if (!this.running) return;
      action();
      this.every(meanMs, label, action);
    });
  }

  private propose(): void {
    const target = this.cluster.leaders()[0] ?? this.random.pick(this.ids);
    this.cluster.propose(target, `k${this.random.int(16)}=v${++this.keyCounter}`);
  }

  private read(): void {
    const leader = this.cluster.leaders()[0];
    const target =
      leader !== undefined && this.random.chance(0.7) ? leader : this.random.pick(this.ids);
    const mode =
      this.parameters.clockDrift > 0 && this.random.chance(0.5) ? "lease" : "linearizable";
    this.cluster.read(target, mode);
  }

  private partition(): void {
    const roll = this.random.float();
    if (roll < 0.3) {
      this.cluster.heal();
    } else if (roll < 0.5) {
      // A non-transitive cut: two nodes lose each other but still reach the rest.
      const [a, b] = this.shuffled();
      this.cluster.cutLinks([[a!, b!]]);
    } else {
      const shuffled = this.shuffled();
      const cut = 1 + this.random.int(shuffled.length - 1);
      this.cluster.partition([shuffled.slice(0, cut), shuffled.slice(cut)]);
    }
  }

  /** Fisher–Yates on the seeded source. */
  private shuffled(): string[] {
    const out = [...this.ids];
    for (let k = out.length - 1; k > 0; k--) {
      const j = this.random.int(k + 1);
      [out[k], out[j]] = [out[j]!, out[k]!];
    }
    return out;
  }

  /** Remove a voter (down to one: a leader alone is a quorum), add a removed node back as a learner, or promote a learner. */
  private changeMembership(): void {
    const leader = this.cluster.leaders()[0];
    if (leader === undefined) return;
    const config = this.cluster.raft(leader)!.membership.current();
    const outside = this.ids.filter(
      (id) => !config.voters.includes(id) && !config.learners.includes(id),
    );
    const learner = config.learners[0];
    if (learner !== undefined) {
      this.cluster.proposeConfigChange(leader, [{ type: "addVoter", node: learner }]);
    } else if (outside.length > 0) {
      this.cluster.proposeConfigChange(leader, [
        { type: "addLearner", node: this.random.pick(outside) },
      ]);
    } else if (config.voters.length > 1) {
      this.cluster.proposeConfigChange(leader, [
        { type: "remove", node: this.random.pick(config.voters) },
      ]);
    }
  }

  private crash(): void {
    const down = this.ids.filter((id) => !this.cluster.node(id).up);
    if (down.length > 0 && this.random.chance(0.6)) {
      this.cluster.restart(this.random.pick(down));
      return;
    }
    // Leaders are crashed more often than their share: Figure 8 needs leaders to die mid-term.
    const leader = this.cluster.leaders()[0];
    const id =
      leader !== undefined && this.random.chance(0.5) ? leader : this.random.pick(this.ids);
    this.cluster.crash(id);
    const downtime = 10 + this.random.int(2 * this.parameters.crashEveryMs);
    this.cluster.at(downtime, `restart ${id}`, () => this.cluster.restart(id));
  }

  private transfer(): void {
    const leader = this.cluster.leaders()[0];
    if (leader === undefined) return;
    const others = this.ids.filter((id) => id !== leader);
    this.cluster.transferLeadership(leader, this.random.pick(others));
  }
}
