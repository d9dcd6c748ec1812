/**
 * A port of the MIT 6.824 / 6.5840 Raft lab harness (raft/config.go) onto remu.
 *
 * Servers are numbered 0..n-1 as in the lab (remu calls them n1..nn), so the lab's arithmetic
 * such as `(leader + 1) % servers` carries over unchanged. Wall-clock sleeps become virtual
 * time; everything is deterministic for a seed. Commands are the lab's random ints, as strings.
 *
 * Differences from the lab that the ported tests account for:
 * - A new leader appends a no-op entry at the start of its term (Raft thesis §6.4), so command
 *   indices are shifted by the number of leader terms; nCommitted() reports such an entry's
 *   command as null, and the tests check index *relations* instead of the lab's absolute ones.
 * - Pre-vote is on, so an election costs pre-vote and vote requests.
 * - A restarted node ignores vote requests for one election timeout (leader-lease safety).
 */
import { type Message, SeededRandom } from "../../raft/mod.js";
import { Cluster } from "../../src/remu/mod.js";

/** The lab's RaftElectionTimeout: a leader must be elected within a few of these. */
export const RAFT_ELECTION_TIMEOUT = 1000;
/** Lab 2D: the service snapshots every this many applied entries. */
export const SNAPSHOT_INTERVAL = 10;
/** Lab 2D: the persisted Raft state (log and hard state, not the snapshot) stays below this. */
export const MAX_LOG_SIZE = 2000;

/** Raft timing that matches the lab's assumptions: heartbeats every 100 ms, ET 300–600 ms. */
export const labRaftSettings = { electionTicks: 30, heartbeatTicks: 10 } as const;
export const labTickMs = 10;

/** What wait() returns when some server moved past the start term (the lab's -1). */
export const MOVED_ON = Symbol("moved on");

/** The command committed at an index; null for an entry no client proposed (a no-op). */
export type Cmd = string | null;

/** A cooperative task (the lab's goroutine): yields how many virtual ms it sleeps. */
export type Task<T> = Generator<number, T, void>;

export interface TaskHandle<T> {
  done: boolean;
  value: T | undefined;
}

interface ScheduledTask {
  at: number;
  seq: number;
  gen: Task<unknown>;
  handle: TaskHandle<unknown>;
}

export interface LabConfig {
  readonly servers: number;
  readonly unreliable?: boolean;
  /** Lab 2D's applierSnap: snapshot every SNAPSHOT_INTERVAL applied entries. */
  readonly snapshot?: boolean;
}

export class LabFailure extends Error {
  override readonly name = "LabFailure";
}

/** Rough wire size of a request: a 48-byte header plus entry payloads (labrpc counts gob bytes). */
function messageBytes(message: Message): number {
  switch (message.type) {
    case "append":
      return 48 + message.entries.reduce((sum, entry) => sum + 24 + entry.data.length, 0);
    case "snapshot":
      return 64 + message.data.length;
    default:
      return 48;
  }
}

const requestTypes = new Set([
  "vote",
  "append",
  "heartbeat",
  "snapshot",
  "timeoutNow",
  "readIndex",
]);

/** config.go on remu. */
export class Lab {
  readonly cluster: Cluster;
  /** The test's own randomness (the lab's rand.Int()), separate from the cluster's. */
  readonly rand: SeededRandom;
  readonly n: number;
  readonly ids: readonly string[];
  /** The lab's connected[]: a crashed server is disconnected until connect(). */
  private readonly connected: boolean[];
  /** Highest index each server applied in any earlier incarnation (the lab's logs[i]). */
  private readonly maxApplied: number[];
  /** (index, term) → command: the entry a leader of `term` appended at `index` for start(). */
  private readonly commands = new Map<string, string>();
  private readonly tasks: ScheduledTask[] = [];
  private taskSeq = 0;
  /** Bytes of request RPCs sent (the lab's bytesTotal). */
  private bytes = 0;

  constructor(
    readonly title: string,
    readonly seed: number,
    config: LabConfig,
  ) {
    this.n = config.servers;
    this.rand = new SeededRandom((seed * 0x9e3779b1) ^ 0x5bd1e995);
    this.cluster = new Cluster({
      nodes: config.servers,
      seed,
      raft: labRaftSettings,
      tickMs: labTickMs,
      snapshotEvery: config.snapshot ? SNAPSHOT_INTERVAL : 0,
    });
    this.ids = [...this.cluster.nodes.keys()];
    this.connected = this.ids.map(() => true);
    this.maxApplied = this.ids.map(() => 0);
    this.setUnreliable(config.unreliable ?? false);
    const network = this.cluster.network;
    const schedule = network.schedule.bind(network);
    network.schedule = (message: Message) => {
      if (requestTypes.has(message.type)) this.bytes += messageBytes(message);
      return schedule(message);
    };
  }

  // ------------------------------------------------------------ failures

  get now(): number {
    return this.cluster.now;
  }

  /** Every failure names the test, the seed and the virtual time, and shows the trace. */
  describe(message: string): string {
    return `${this.title} [seed ${this.seed}] at t=${Math.round(this.now)}ms: ${message}`;
  }

  fatal(message: string): never {
    throw new LabFailure(`${this.describe(message)}\n${this.traceTail()}`);
  }

  assert(condition: boolean, message: string): void {
    if (!condition) this.fatal(message);
  }

  traceTail(lines = 60): string {
    return `--- last ${lines} trace lines (seed ${this.seed}) ---\n${this.cluster.trace
      .lines()
      .slice(-lines)
      .join("\n")}`;
  }

  // ------------------------------------------------------------ servers and network

  private raftOf(i: number) {
    return this.cluster.raft(this.ids[i]!);
  }

  isUp(i: number): boolean {
    return this.raftOf(i) !== null;
  }

  isConnected(i: number): boolean {
    return this.connected[i]! && this.isUp(i);
  }

  /** The lab's GetState(): (term, isLeader); null while the server is crashed. */
  getState(i: number): { term: number; isLeader: boolean } | null {
    const raft = this.raftOf(i);
    return raft === null
      ? null
      : { term: raft.status().term, isLeader: raft.status().role === "leader" };
  }

  disconnect(i: number): void {
    this.connected[i] = false;
    this.cluster.isolate(this.ids[i]!);
  }

  connect(i: number): void {
    this.connected[i] = true;
    this.cluster.reconnect(this.ids[i]!);
  }

  /** crash1: disconnect and kill; only what reached the disk survives. */
  crash1(i: number): void {
    this.disconnect(i);
    const raft = this.raftOf(i);
    if (raft === null) return;
    this.maxApplied[i] = Math.max(this.maxApplied[i]!, raft.status().appliedIndex);
    this.cluster.crash(this.ids[i]!);
  }

  /** start1: crash (if up), then restart from the disk; it stays disconnected until connect(). */
  start1(i: number): void {
    this.crash1(i);
    this.cluster.restart(this.ids[i]!);
  }

  setUnreliable(unreliable: boolean): void {
    // labrpc: a request or a reply is lost with probability 0.1 and requests wait 0–27 ms.
    this.cluster.setNetwork(
      unreliable
        ? { dropRate: 0.1, latencyMinMs: 0, latencyMaxMs: 27 }
        : { dropRate: 0, latencyMinMs: 1, latencyMaxMs: 5 },
    );
  }

  setLongReordering(on: boolean): void {
    // labrpc delays 2/3 of replies (about a third of all messages) by 200 + rand(1 + rand(2000))
    // ms, mean about 700 ms; remu draws uniformly, so 0–1400 ms keeps the mean.
    this.cluster.setNetwork(
      on ? { longDelayRate: 0.33, longDelayMaxMs: 1400 } : { longDelayRate: 0, longDelayMaxMs: 0 },
    );
  }

  /** Request RPCs sent so far (labrpc counts RPCs per server; this is their sum). */
  rpcTotal(): number {
    return this.cluster.requestsSent;
  }

  bytesTotal(): number {
    return this.bytes;
  }

  /** The lab's LogSize(): the largest persisted Raft state (log entries and hard state). */
  logSize(): number {
    let max = 0;
    for (const node of this.cluster.nodes.values()) {
      const bytes = node.durable.entries.reduce((sum, entry) => sum + 24 + entry.data.length, 16);
      max = Math.max(max, bytes);
    }
    return max;
  }

  // ------------------------------------------------------------ time and tasks

  /** time.Sleep: advance virtual time, running background tasks that wake meanwhile. */
  sleep(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      const next = this.nextTask(until);
      if (next === undefined) break;
      if (next.at > this.now) this.cluster.runFor(next.at - this.now);
      this.stepTask(next);
    }
    if (until > this.now) this.cluster.runFor(until - this.now);
  }

  /** Run a task to completion in the foreground. */
  run<T>(task: Task<T>): T {
    for (;;) {
      const step = task.next();
      if (step.done) return step.value;
      this.sleep(step.value);
    }
  }

  /** `go task()`: it runs whenever the foreground sleeps. */
  go<T>(task: Task<T>): TaskHandle<T> {
    const handle: TaskHandle<T> = { done: false, value: undefined };
    const scheduled: ScheduledTask = {
      at: this.now,
      seq: this.taskSeq++,
      gen: task,
      handle: handle as TaskHandle<unknown>,
    };
    this.stepTask(scheduled);
    return handle;
  }

  /** Wait (in virtual time) for background tasks to finish. */
  join(handles: readonly TaskHandle<unknown>[], maxMs: number): void {
    const deadline = this.now + maxMs;
    while (handles.some((handle) => !handle.done)) {
      if (this.now >= deadline) this.fatal(`background tasks still running after ${maxMs}ms`);
      this.sleep(10);
    }
  }

  private nextTask(until: number): ScheduledTask | undefined {
    let best: ScheduledTask | undefined;
    for (const task of this.tasks) {
      if (task.at > until) continue;
      if (best === undefined || task.at < best.at || (task.at === best.at && task.seq < best.seq))
        best = task;
    }
    if (best !== undefined) this.tasks.splice(this.tasks.indexOf(best), 1);
    return best;
  }

  private stepTask(task: ScheduledTask): void {
    const step = task.gen.next();
    if (step.done) {
      task.handle.done = true;
      task.handle.value = step.value;
      return;
    }
    task.at = this.now + step.value;
    task.seq = this.taskSeq++;
    this.tasks.push(task);
  }

  // ------------------------------------------------------------ clients

  /** rf.Start(cmd) on server i. */
  start(i: number, cmd: string): { index: number; term: number; ok: boolean } {
    const raft = this.raftOf(i);
    if (raft === null) return { index: -1, term: -1, ok: false };
    const result = this.cluster.propose(this.ids[i]!, cmd);
    if (!result.ok) return { index: -1, term: raft.status().term, ok: false };
    this.commands.set(`${result.index}:${result.term}`, cmd);
    return { index: result.index, term: result.term, ok: true };
  }

  /** The lab's random int command. */
  randCmd(): string {
    return String(this.rand.next32());
  }

  /** The highest index server i has applied, in this or an earlier incarnation. */
  appliedIndex(i: number): number {
    return Math.max(this.maxApplied[i]!, this.raftOf(i)?.status().appliedIndex ?? 0);
  }

  /**
   * How many servers think the entry at `index` is committed (applied it), and its command.
   * remu checks every apply against its registry of committed entries, so "applied up to
   * index" identifies the entry; its (index, term) maps back to the start() that created it.
   */
  nCommitted(index: number): { count: number; cmd: Cmd } {
    let count = 0;
    for (let i = 0; i < this.n; i++) if (this.appliedIndex(i) >= index) count++;
    if (count === 0) return { count, cmd: null };
    const committed = this.cluster.checker.committedAt(index);
    if (committed === undefined) this.fatal(`index ${index} applied but never committed`);
    const cmd = this.commands.get(`${index}:${committed.term}`) ?? null;
    // As the lab's applier does, compare with what each live server holds there.
    for (let i = 0; i < this.n; i++) {
      const raft = this.raftOf(i);
      const entry = raft?.log.entry(index);
      if (raft === null || entry === undefined || raft.status().appliedIndex < index) continue;
      const held = entry.data.length === 0 ? null : new TextDecoder().decode(entry.data);
      if (held !== cmd) {
        this.fatal(`committed values do not match: index ${index}, ${cmd} vs ${held} at ${i}`);
      }
    }
    return { count, cmd };
  }

  /** one(): submit cmd until `expectedServers` agree on it; returns its index. */
  one(cmd: string, expectedServers: number, retry: boolean): number {
    return this.run(this.oneTask(cmd, expectedServers, retry));
  }

  *oneTask(cmd: string, expectedServers: number, retry: boolean): Task<number> {
    const t0 = this.now;
    let starts = 0;
    while (this.now - t0 < 10_000) {
      // Try all the servers, maybe one is the leader.
      let index = -1;
      for (let si = 0; si < this.n; si++) {
        starts = (starts + 1) % this.n;
        if (this.isConnected(starts)) {
          const result = this.start(starts, cmd);
          if (result.ok) {
            index = result.index;
            break;
          }
        }
      }
      if (index !== -1) {
        // Somebody claimed to be the leader and to have submitted our command; wait a while.
        const t1 = this.now;
        while (this.now - t1 < 2000) {
          const { count, cmd: cmd1 } = this.nCommitted(index);
          if (count > 0 && count >= expectedServers && cmd1 === cmd) return index;
          yield 20;
        }
        if (!retry) this.fatal(`one(${cmd}) failed to reach agreement`);
      } else {
        yield 50;
      }
    }
    this.fatal(`one(${cmd}) failed to reach agreement`);
  }

  /** wait(): until n servers applied `index`; MOVED_ON if a term passed startTerm (-1: none). */
  wait(index: number, n: number, startTerm: number): Cmd | typeof MOVED_ON {
    let to = 10;
    for (let iters = 0; iters < 30; iters++) {
      if (this.nCommitted(index).count >= n) break;
      this.sleep(to);
      if (to < 1000) to *= 2;
      if (startTerm > -1) {
        for (let i = 0; i < this.n; i++) {
          const state = this.getState(i);
          if (state !== null && state.term > startTerm) return MOVED_ON;
        }
      }
    }
    const { count, cmd } = this.nCommitted(index);
    if (count < n) this.fatal(`only ${count} decided for index ${index}; wanted ${n}`);
    return cmd;
  }

  // ------------------------------------------------------------ leaders and terms

  checkOneLeader(): number {
    for (let iters = 0; iters < 10; iters++) {
      this.sleep(450 + this.rand.int(100));
      const leaders = new Map<number, number[]>();
      for (let i = 0; i < this.n; i++) {
        const state = this.isConnected(i) ? this.getState(i) : null;
        if (state?.isLeader) leaders.set(state.term, [...(leaders.get(state.term) ?? []), i]);
      }
      let lastTermWithLeader = -1;
      for (const [term, ofTerm] of leaders) {
        if (ofTerm.length > 1) this.fatal(`term ${term} has ${ofTerm.length} (>1) leaders`);
        lastTermWithLeader = Math.max(lastTermWithLeader, term);
      }
      if (leaders.size > 0) return leaders.get(lastTermWithLeader)![0]!;
    }
    this.fatal("expected one leader, got none");
  }

  /** One line of statistics (printed with LAB_VERBOSE=1). */
  summary(): string {
    const { stats, checker, network } = this.cluster;
    return (
      `${this.title} [seed ${this.seed}]: ${Math.round(this.now)} virtual ms, ` +
      `${stats.events} events, ${stats.elections} elections, ${stats.crashes} crashes, ` +
      `committed ${checker.maxCommittedIndex}, ${stats.snapshots} snapshots taken, ` +
      `${stats.snapshotsInstalled} installed, ${this.rpcTotal()} RPCs, ` +
      `${network.stats.dropped} messages dropped`
    );
  }

  checkTerms(): number {
    let term = -1;
    for (let i = 0; i < this.n; i++) {
      if (!this.isConnected(i)) continue;
      const xterm = this.getState(i)!.term;
      if (term === -1) term = xterm;
      else if (term !== xterm) this.fatal(`servers disagree on term (${term} vs ${xterm} at ${i})`);
    }
    return term;
  }

  checkNoLeader(): void {
    for (let i = 0; i < this.n; i++) {
      if (this.isConnected(i) && this.getState(i)!.isLeader) {
        this.fatal(`expected no leader among connected servers, but ${i} claims to be leader`);
      }
    }
  }
}

/**
 * Run one scenario for one seed. Anything thrown (an InvariantViolation from remu included) is
 * re-thrown with the test's name, the seed, the virtual time and the tail of the trace.
 */
export function runLab(
  title: string,
  seed: number,
  config: LabConfig,
  body: (lab: Lab) => void,
): Lab {
  const lab = new Lab(title, seed, config);
  try {
    body(lab);
  } catch (error) {
    if (error instanceof LabFailure) throw error;
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new LabFailure(`${lab.describe(message)}\n${lab.traceTail()}`, { cause: error });
  }
  if (process.env.LAB_VERBOSE) console.log(lab.summary());
  return lab;
}
