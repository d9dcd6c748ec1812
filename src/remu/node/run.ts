import { SeededRandom } from "../../../raft/mod.js";
import type { NodeId } from "../../../raft/types.js";
import type { PeerGatewayPorts } from "../../../stages/replicate/mod.js";
import { HistoryRecorder, type KvInput, type KvOutput } from "../../check/mod.js";
import { InvariantChecker, InvariantKind, InvariantViolation } from "../invariants.js";
import { VirtualNetwork } from "../network.js";
import { ExitCode, exitCodeFor, type RunResult } from "../run.js";
import { Trace } from "../trace.js";
import { checkHistory, checkReplicas } from "./checks.js";
import { SimClient, sessionFor } from "./clients.js";
import { driveFaults, type FaultWorld, maybeCrashInSync } from "./faults.js";
import { type FatalRecord, NodeHost } from "./host.js";
import { LeaseWorkload } from "./lease-clients.js";
import { MembershipDriver } from "./membership.js";
import { drawParameters, hostSettings } from "./parameters.js";
import { SimScheduler } from "./world.js";

export const nodeFaultKinds = [
  "drop",
  "reorder",
  "partition",
  "crash",
  "disk",
  "membership",
] as const;
export type NodeFaultKind = (typeof nodeFaultKinds)[number];

export interface NodeRunOptions {
  readonly nodes: number;
  readonly seed: number;
  /** Virtual ms of the safety phase (clients and faults). */
  readonly durationMs: number;
  readonly faults: readonly NodeFaultKind[];
  readonly clients?: number;
  /** Lease holders (default: drawn from the seed, none in a quarter of the runs). */
  readonly leaseClients?: number;
  readonly verbose?: boolean;
}

/**
 * remu's node mode: each node runs the production pipeline (raft-step, wal-append, apply with
 * the state machine, sessions and admin ops, respond) on the simulated clock, network and disk
 * (src/remu/node/host.ts), all drawn from the seed. Raft's invariants are checked after every
 * event; at the end the clients' history is checked for linearizability and the replicas'
 * state machines compared.
 */
export async function runNodeEmulation(options: NodeRunOptions): Promise<RunResult> {
  const sim = new NodeSim(options);
  return sim.run();
}

class NodeSim {
  private readonly random: SeededRandom;
  private readonly scheduler = new SimScheduler();
  private readonly network: VirtualNetwork;
  private readonly checker = new InvariantChecker();
  private readonly trace = new Trace(400);
  private readonly recorder = new HistoryRecorder<KvInput, KvOutput>({
    clock: () => this.scheduler.now,
  });
  private readonly hosts: NodeHost[] = [];
  private readonly clients: SimClient[] = [];
  private readonly fatals: FatalRecord[] = [];
  private readonly parameters: Record<string, number | string>;
  private events = 0;
  private runError: Error | null = null;
  private membership: MembershipDriver | null = null;
  private leases!: LeaseWorkload;
  /** A hash of every trace line: equal digests, equal runs (the determinism check). */
  private digest = 0x811c9dc5;

  constructor(private readonly options: NodeRunOptions) {
    this.random = new SeededRandom(options.seed);
    this.network = new VirtualNetwork(new SeededRandom(this.random.next32()));
    this.parameters = drawParameters(options, this.random);
    this.network.faults = {
      dropRate: Number(this.parameters.dropRate),
      duplicateRate: 0,
      latencyMinMs: 1,
      latencyMaxMs: Number(this.parameters.latencyMaxMs),
      longDelayRate: 0,
      longDelayMaxMs: 0,
    };
    this.build();
  }

  private build(): void {
    const p = this.parameters;
    const names = Array.from({ length: this.options.nodes }, (_, k) => `n${k + 1}`);
    const members = new Map(names.map((name) => [name, `${name}:peer`]));
    const links = {
      carry: (from: NodeId, to: NodeId, arrive: (edge: PeerGatewayPorts) => void) =>
        this.carry(from, to, arrive),
      linkUp: (from: NodeId, to: NodeId) => this.network.linkUp(from, to),
      nameOf: (address: string) => address.split(":")[0],
      requestTimeoutMs: 2_000,
      now: () => this.scheduler.now,
    };
    for (const name of names) {
      const host = new NodeHost(
        name,
        members,
        this.scheduler,
        links,
        hostSettings(p),
        new SeededRandom(this.random.next32()),
        (record) => this.fatal(record),
      );
      host.disk.faults = {
        fsyncFailRate: Number(p.fsyncFailRate),
        fsyncMinMs: 0,
        fsyncMaxMs: Number(p.fsyncMaxMs),
        tornWriteRate: Number(p.tornWriteRate),
      };
      if (Number(p.crashInSyncRate) > 0)
        host.disk.onSync = (delayMs) => maybeCrashInSync(this.faultWorld(), host, delayMs);
      this.hosts.push(host);
    }
    const world = {
      hosts: this.hosts,
      sessionTtlMs: Number(p.sessionTtlMs),
      now: () => this.scheduler.now,
      trace: (line: string) => this.note(line),
    };
    for (let k = 1; k <= (this.options.clients ?? Number(this.parameters.clients)); k++)
      this.clients.push(
        new SimClient(
          k,
          world,
          this.recorder,
          new SeededRandom(this.random.next32()),
          sessionFor(k),
        ),
      );
    const electionMs = 10 * Number(hostSettings(p).raft.electionTicks);
    this.leases = new LeaseWorkload(
      Number(p.leaseClients),
      { seed: this.options.seed, electionMs, slackMs: 2 * electionMs },
      {
        ...world,
        grantUntil: this.options.durationMs + 1_000,
        at: (time, fn) => this.at(time, fn),
      },
      (from, to) => this.network.linkUp(from, to),
      () => new SeededRandom(this.random.next32()),
    );
  }

  async run(): Promise<RunResult> {
    let failure: string | null = null;
    let exitCode: ExitCode = ExitCode.ok;
    try {
      for (const host of this.hosts) this.at(0, () => this.boot(host));
      driveFaults(this.faultWorld());
      this.driveMembership();
      this.driveClients();
      this.leases.start();
      await this.runUntil(this.options.durationMs);
      await this.heal();
      failure =
        checkHistory(this.recorder) ??
        (await checkReplicas(this.hosts)) ??
        (await this.leases.checkReplicas(this.hosts, this.options.seed));
      if (failure !== null) exitCode = ExitCode.invariant;
    } catch (error) {
      failure = `${(error as Error).name}: ${(error as Error).message}`;
      exitCode = exitCodeFor(error);
    }
    return {
      ok: failure === null,
      exitCode,
      failure,
      parameters: this.parameters,
      summary: this.summary(),
      trace: this.trace.lines(),
    };
  }

  /** Power a node on; a boot that throws (a WAL it cannot load) fails the run. */
  private boot(host: NodeHost): void {
    if (host.retired) return;
    host.boot().catch((error: unknown) => {
      const message = (error as Error).message;
      if (!message.startsWith("EIO")) {
        this.runError ??= new Error(`${host.name} could not boot: ${message}`);
        return;
      }
      // The disk failed a sync while the node started: it exits, and is started again.
      this.note(`${host.name} failed to start (${message}); restarting`);
      host.crash();
      this.at(this.scheduler.now + 100, () => this.boot(host));
    });
  }

  /** Run events until virtual time `until` (or `done`), each followed by the pipelines settling. */
  private async runUntil(until: number, done = () => false): Promise<void> {
    while (!done() && this.scheduler.step(until)) {
      this.events++;
      await this.settle();
      if (this.runError !== null) throw this.runError;
      this.checkInvariants();
    }
    if (!done()) this.scheduler.now = Math.max(this.scheduler.now, until);
  }

  /**
   * Let the stages run what the event started: their batches are scheduled with setImmediate
   * and chained by promises, never on real time or I/O, so the same turns run in the same
   * order every time. Settled: a whole turn in which nothing moved.
   */
  private async settle(): Promise<void> {
    let last = "";
    for (let turn = 0; turn < 10_000; turn++) {
      await new Promise((resolve) => setImmediate(resolve));
      const now = this.progress();
      if (now === last) return;
      last = now;
    }
    throw new Error("the pipelines did not settle within 10000 turns");
  }

  private progress(): string {
    const parts: number[] = [this.scheduler.size, this.recorder.history().length];
    for (const host of this.hosts) {
      const pipeline = host.life?.pipeline;
      parts.push(host.incarnation, host.booting ? 1 : 0);
      if (pipeline === undefined) continue;
      for (const stage of [
        pipeline.raftStep,
        pipeline.walAppend,
        pipeline.apply,
        pipeline.respond,
      ]) {
        const s = stage.snapshot();
        parts.push(s.accepted, s.processed, s.queueDepth);
      }
    }
    return parts.join(",");
  }

  private checkInvariants(): void {
    const up = this.hosts.filter((h) => h.life !== null);
    for (const host of up) {
      const others = up.filter((h) => h !== host).map((h) => h.life!.raft);
      const raft = host.life!.raft;
      this.checker.check(raft, host.life!.incarnation, others);
      const waiting = host.life!.pipeline.raftStep.readiesWaiting;
      if (waiting > 0)
        throw new InvariantViolation(
          InvariantKind.readyBudget,
          `${host.name}: ${waiting} Ready(s) taken from the core wait for room downstream`,
        );
      const { role, term, commitIndex, appliedIndex } = raft.status();
      this.digest = fnv(this.digest, `${host.name} ${role} ${term} ${commitIndex} ${appliedIndex}`);
    }
    this.leases.observe(this.hosts);
  }

  private carry(from: NodeId, to: NodeId, arrive: (edge: PeerGatewayPorts) => void): void {
    for (const delay of this.network.schedule({ from, to })) {
      this.at(this.scheduler.now + delay, () => {
        const target = this.hosts.find((h) => h.name === to)?.life;
        if (!target || !this.network.linkUp(from, to)) return;
        this.network.stats.delivered++;
        arrive(target.pipeline.edgePorts());
      });
    }
  }

  private at(time: number, fn: () => void): void {
    this.scheduler.at(time, fn);
  }

  private every(ms: number, fn: () => void): void {
    if (ms <= 0) return;
    const fire = () => {
      if (this.scheduler.now >= this.options.durationMs) return;
      fn();
      this.at(this.scheduler.now + ms, fire);
    };
    this.at(ms, fire);
  }

  private driveMembership(): void {
    const every = Number(this.parameters.membershipEveryMs);
    if (every <= 0) return;
    this.membership = new MembershipDriver({
      hosts: this.hosts,
      random: new SeededRandom(this.random.next32()),
      nodes: this.options.nodes,
      now: () => this.scheduler.now,
      note: (line) => this.note(line),
      boot: (host) => this.boot(host),
    });
    const driver = this.membership;
    this.every(every, () => driver.step());
  }

  private driveClients(): void {
    this.every(Number(this.parameters.opEveryMs), () => {
      // Bursts now and then: many requests in one turn fill the queues and bind the budgets.
      const idle = this.clients.filter((c) => !c.busy);
      if (idle.length === 0) return;
      if (this.random.chance(0.5)) for (const client of idle) client.issue();
      else this.random.pick(idle).issue();
    });
  }

  private faultWorld(): FaultWorld {
    return {
      hosts: this.hosts,
      random: this.random,
      network: this.network,
      parameters: this.parameters,
      durationMs: this.options.durationMs,
      now: () => this.scheduler.now,
      at: (time, fn) => this.at(time, fn),
      every: (ms, fn) => this.every(ms, fn),
      note: (line) => this.note(line),
      boot: (host) => this.boot(host),
    };
  }

  /** Everything heals and restarts; the clients' last operations get time to finish. */
  private async heal(): Promise<void> {
    this.network.heal();
    this.network.faults = { ...this.network.faults, dropRate: 0 };
    for (const host of this.hosts) {
      host.disk.faults = { ...host.disk.faults, fsyncFailRate: 0 };
      if (host.life === null && !host.booting) this.at(this.scheduler.now, () => this.boot(host));
    }
    this.note("heal all");
    await this.runUntil(this.scheduler.now + 3_000);
    // The lease holders stop; then every replica catches up (the end checks compare them).
    this.leases.stop();
    await this.runUntil(this.scheduler.now + 2_000, () => this.leases.caughtUp(this.hosts));
  }

  /** A stage took the fatal path: expected after an injected fsync failure, else a bug. */
  private fatal(record: FatalRecord): void {
    this.fatals.push(record);
    this.note(`fatal ${record.node} in ${record.stage}: ${record.error} (would exit 70)`);
    if (record.error.startsWith("EIO")) {
      this.at(this.scheduler.now + 100, () =>
        this.boot(this.hosts.find((h) => h.name === record.node)!),
      );
      return;
    }
    this.runError ??= new Error(
      `${record.node} ${record.stage}: ${record.message}: ${record.error}`,
    );
  }

  private note(line: string): void {
    this.trace.add(this.scheduler.now, line);
    this.digest = fnv(this.digest, `${this.scheduler.now} ${line}`);
    if (this.options.verbose) process.stdout.write(`${this.scheduler.now} ${line}\n`);
  }

  private summary(): Record<string, unknown> {
    const sum = (key: keyof SimClient["stats"]) =>
      this.clients.reduce((total, c) => total + c.stats[key], 0);
    return {
      digest: this.digest.toString(16),
      events: this.events,
      committed: this.checker.maxCommittedIndex,
      membership: this.membership?.stats ?? null,
      leases: { ...this.leases.ledger.stats, leaderships: this.leases.ledger.leaders.count },
      ok: sum("ok"),
      refused: sum("refused"),
      unknown: sum("unknown"),
      retries: sum("retries"),
      staleReads: sum("stale"),
      fatals: this.fatals.length,
      crashes: this.hosts.reduce((total, h) => total + h.incarnation - 1, 0),
      tornWrites: this.hosts.reduce((total, h) => total + h.disk.stats.tornBatches, 0),
      lostWrites: this.hosts.reduce((total, h) => total + h.disk.stats.lostBatches, 0),
      messages: this.network.stats.delivered,
    };
  }
}

export function fnv(hash: number, text: string): number {
  let h = hash;
  for (let k = 0; k < text.length; k++) h = Math.imul(h ^ text.charCodeAt(k), 0x01000193) >>> 0;
  return h;
}
