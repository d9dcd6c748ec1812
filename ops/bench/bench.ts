/**
 * npm run bench [-- --seconds N] [--quick] [--connections C] [--window W] [--no-etcd] …
 *
 * Measures a 3-node stageraft cluster on loopback (durable: WAL fsync on) under a closed-loop
 * load of many requests in flight, and, when `etcd` is on the PATH, a 3-member etcd cluster
 * under the same workload through etcd's v3 JSON gateway, one system after the other. Prints
 * the machine, the settings and the tables, and writes ops/bench/results/latest.json.
 * Not a test: it measures and prints. It exits non-zero when something broke (a node died, a
 * phase stalled or errors spiked, a cluster did not start), after reporting it.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { Command, InvalidArgumentError, Option } from "commander";
import hdr from "hdr-histogram-js";
import {
  type BenchCluster,
  cpuSeconds,
  EtcdCluster,
  killEverythingSync,
  type LeaderInfo,
  machineBusySeconds,
  type RaftTiming,
  StageraftCluster,
  type SystemName,
  sleep,
} from "./launch.js";
import type { FromWorker, PhaseOp, PhaseResult, ToWorker, WorkerInit } from "./load.js";
import { describeMachine, integer, type MachineInfo, machineInfo, ms, table } from "./report.js";

// `npm run bench -- kv-engine …`: the KV engine's write path in process (ops/bench/kv-engine.ts).
if (process.argv[2] === "kv-engine")
  process.exit(await (await import("./kv-engine.js")).runKvEngineBench(process.argv.slice(3)));
// `npm run bench -- vector …`: the vector bench (ops/bench/vector.ts) instead of this one.
if (process.argv[2] === "vector") {
  const { runVectorBench } = await import("./vector.js");
  process.exit(await runVectorBench(process.argv.slice(3)));
}
// `npm run bench -- api …`, or `--phases` naming only watch, txn, lease: watch fan-out, txn/s,
// lease keep-alives/s vs etcd (ops/bench/api.ts; the KV-only options do not apply there).
const phasesValue = process.argv[process.argv.indexOf("--phases") + 1] ?? "";
if (
  process.argv[2] === "api" ||
  (process.argv.includes("--phases") &&
    phasesValue.split(",").every((name) => ["watch", "txn", "lease"].includes(name.trim())))
) {
  const { runApiBench } = await import("./api.js");
  process.exit(await runApiBench(process.argv.slice(process.argv[2] === "api" ? 3 : 2)));
}
// `npm run bench -- pools …`: this bench once per stage-pool choice, side by side (pools.ts).
if (process.argv[2] === "pools") {
  const { runPoolsBench } = await import("./pools.js");
  process.exit(await runPoolsBench(process.argv.slice(3)));
}

// ---------------------------------------------------------------- paths and options

function findRoot(start: string): string {
  let dir = start;
  for (;;) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === "stageraft")
          return dir;
      } catch {
        // keep looking
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no stageraft package.json above ${start}`);
    dir = parent;
  }
}

const root = findRoot(dirname(fileURLToPath(import.meta.url)));
const cli = join(root, "dist", "src", "cli.js");
const workerUrl = new URL("./load.js", import.meta.url);

function positiveInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1)
    throw new InvalidArgumentError("must be a positive integer");
  return parsed;
}

function positiveNumber(value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0)
    throw new InvalidArgumentError("must be a positive number");
  return parsed;
}

function nonNegativeNumber(value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0)
    throw new InvalidArgumentError("must be a number >= 0");
  return parsed;
}

const allPhases: PhaseOp[] = ["put", "get-linearizable", "get-lease", "get-stale"];

function phaseList(value: string): PhaseOp[] {
  const names = value.split(",").map((name) => name.trim());
  for (const name of names)
    if (!(allPhases as string[]).includes(name))
      throw new InvalidArgumentError(
        `unknown phase "${name}" (known: ${allPhases.join(", ")}; watch, txn, lease run alone or with npm run bench -- api)`,
      );
  return allPhases.filter((phase) => names.includes(phase));
}

const program = new Command("bench")
  .description(
    "3-node stageraft on loopback (durable) vs a 3-member etcd, same workload, one after the other",
  )
  .addOption(
    new Option("--seconds <n>", "measured seconds per phase (default 10; --quick: 3)").argParser(
      positiveNumber,
    ),
  )
  .addOption(
    new Option(
      "--warmup <n>",
      "warm-up seconds before each phase, not measured (default 2; --quick: 1)",
    ).argParser(nonNegativeNumber),
  )
  .option("--quick", "a smoke run: 3 s phases after 1 s warm-up")
  .addOption(
    new Option("--connections <n>", "client connections").argParser(positiveInt).default(4),
  )
  .addOption(
    new Option("--window <n>", "requests in flight per connection")
      .argParser(positiveInt)
      .default(32),
  )
  .addOption(
    new Option("--workers <n>", "load-generator threads (connections are shared out among them)")
      .argParser(positiveInt)
      .default(1),
  )
  .addOption(
    new Option("--keys <n>", "key space: written once before the phases, then chosen at random")
      .argParser(positiveInt)
      .default(10_000),
  )
  .addOption(
    new Option("--value-bytes <n>", "value size in bytes").argParser(positiveInt).default(256),
  )
  .addOption(
    new Option("--target <where>", "send every connection to the leader, or spread them over all")
      .choices(["leader", "all"])
      .default("leader"),
  )
  .addOption(
    new Option(
      "--data-dir <dir>",
      "where the temp data dirs are made (the disk under test)",
    ).default(os.tmpdir()),
  )
  .addOption(
    new Option(
      "--phases <list>",
      "comma list of put, get-linearizable, get-lease, get-stale (the keys are always loaded first)",
    )
      .argParser(phaseList)
      .default(allPhases, "all"),
  )
  .option("--no-etcd", "skip the etcd comparison")
  .addOption(
    new Option(
      "--apply-pool <kind>",
      "stageraft's apply stage: inline (event loop) or workers (a worker thread)",
    )
      .choices(["inline", "workers"])
      .default("inline"),
  )
  .addOption(
    new Option(
      "--raft-step-pool <kind>",
      "stageraft's raft-step stage: inline (event loop) or workers (the Raft core in a worker thread)",
    )
      .choices(["inline", "workers"])
      .default("inline"),
  )
  .addOption(
    new Option("--etcd-client <kind>", "HTTP client for etcd's JSON gateway")
      .choices(["http", "fetch"])
      .default("http"),
  )
  .addOption(
    new Option("--request-timeout <ms>", "per request, client side")
      .argParser(positiveInt)
      .default(8_000),
  )
  .addOption(
    new Option(
      "--timeout <s>",
      "global timeout of the whole run (default: from the durations)",
    ).argParser(positiveNumber),
  )
  .addOption(
    new Option("--out <file>", "JSON results").default(
      join(root, "ops", "bench", "results", "latest.json"),
    ),
  )
  .parse(process.argv);

const options = program.opts<{
  seconds?: number;
  warmup?: number;
  quick?: boolean;
  connections: number;
  window: number;
  workers: number;
  keys: number;
  valueBytes: number;
  target: "leader" | "all";
  dataDir: string;
  phases: PhaseOp[];
  etcd: boolean;
  etcdClient: "http" | "fetch";
  requestTimeout: number;
  timeout?: number;
  out: string;
  applyPool: "inline" | "workers";
  raftStepPool: "inline" | "workers";
}>();

const raftTiming: RaftTiming = { tickMs: 100, electionTicks: 10, heartbeatTicks: 1 };
const stageraftConfig = {
  raft: raftTiming,
  wal: { sync: true },
  engines: { kv: "level" },
  stages: { raftStep: { pool: options.raftStepPool }, apply: { pool: options.applyPool } },
  // info: stageraft logs only rare events at info (role changes, snapshots, shutdowns), and
  // the bench reads them to explain an exit; nothing per request.
  log: { level: "info" },
};

const measureSeconds = options.seconds ?? (options.quick ? 3 : 10);
const warmupSeconds = options.warmup ?? (options.quick ? 1 : 2);
const workerCount = Math.min(options.workers, options.connections);
const settings = {
  nodes: 3,
  measureSeconds,
  warmupSeconds,
  connections: options.connections,
  window: options.window,
  inFlight: options.connections * options.window,
  loadGeneratorThreads: workerCount,
  keys: options.keys,
  keyBytes: 16,
  valueBytes: options.valueBytes,
  target: options.target,
  dataDir: resolve(options.dataDir),
  requestTimeoutMs: options.requestTimeout,
  etcdClient: options.etcdClient,
  phases: options.phases,
  stageraftConfig,
  raftTiming: {
    heartbeatMs: raftTiming.tickMs * raftTiming.heartbeatTicks,
    electionTimeoutMs: raftTiming.tickMs * raftTiming.electionTicks,
  },
};
const drainMs = options.requestTimeout + 1_000;
const stallMs = options.requestTimeout + 2_000;
const loadTimeoutMs = 120_000;
const startTimeoutMs = 30_000;
const globalTimeoutSeconds =
  options.timeout ??
  180 + (2 * options.phases.length + 1) * (warmupSeconds + measureSeconds + drainMs / 1000 + 2);

// ---------------------------------------------------------------- the results

interface Latency {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

interface PhaseReport {
  readonly op: PhaseOp;
  readonly label: string;
  readonly opsPerSecond: number;
  readonly ok: number;
  readonly errors: Record<string, number>;
  readonly errorCount: number;
  readonly errorSamples: string[];
  readonly latencyMs: Latency | null;
  readonly measuredSeconds: number;
  readonly unfinished: number;
  readonly aborted: string | null;
  /** Percent of one core, per server process, over the measured window. */
  readonly serverCpuPercent: Record<string, number | null>;
  /** Percent of one core used by this bench process (all its threads) over the same window. */
  readonly loadGeneratorCpuPercent: number | null;
  /**
   * Percent of one core used by every other process on the machine over the same window: the
   * noise (other jobs competing for the cores), from /proc/stat minus the servers and the bench.
   */
  readonly otherProcessesCpuPercent: number | null;
  readonly leaderBefore: LeaderInfo | null;
  readonly leaderAfter: LeaderInfo | null;
  /** The leader's own view right after the phase (stageraft: /health with its stages). */
  readonly leaderStateAfter: unknown;
}

interface NodeReport {
  readonly name: string;
  readonly client: string;
  readonly diedDuringRun: string | null;
  readonly warnLines: number;
  readonly errorLines: number;
  readonly firstProblemLines: string[];
  /** warn/error lines counted by message, most frequent first. */
  readonly messages: Record<string, number>;
  readonly outputTail?: string;
}

interface SystemReport {
  readonly system: SystemName;
  version: string;
  readonly transport: string;
  status: "complete" | "skipped" | "failed" | "partial";
  reason?: string;
  startupSeconds?: number;
  leader?: LeaderInfo | null;
  endpoints?: string[];
  phases: PhaseReport[];
  nodes: NodeReport[];
  leaderState?: unknown;
}

const phaseLabels: Record<SystemName, Record<PhaseOp, string>> = {
  stageraft: {
    load: "load (each key once)",
    put: "put",
    "get-linearizable": "get linearizable",
    "get-lease": "get lease",
    "get-stale": "get stale",
  },
  etcd: {
    load: "load (each key once)",
    put: "put",
    "get-linearizable": "range (linearizable)",
    "get-lease": "(no lease reads)",
    "get-stale": "range serializable",
  },
};

const phasesOf: Record<SystemName, PhaseOp[]> = {
  stageraft: ["load", ...options.phases],
  // etcd serves linearizable reads by ReadIndex only: it has no lease-read mode.
  etcd: ["load", ...options.phases.filter((phase) => phase !== "get-lease")],
};

function gitDescription(): string {
  try {
    return execFileSync("git", ["describe", "--always", "--dirty"], {
      cwd: root,
      encoding: "utf8",
      timeout: 5_000,
    }).trim();
  } catch {
    return "unknown";
  }
}

const packageVersion = (
  JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }
).version;

const state: {
  startedAt: Date;
  machine: MachineInfo | null;
  systems: Partial<Record<SystemName, SystemReport>>;
  problems: string[];
  workers: LoadWorker[];
  finished: boolean;
} = {
  startedAt: new Date(),
  machine: null,
  systems: {},
  problems: [],
  workers: [],
  finished: false,
};

const out = (line = "") => process.stdout.write(`${line}\n`);

// ---------------------------------------------------------------- load-generator threads

class LoadWorker {
  readonly worker: Worker;
  done = 0;
  errors = 0;
  inflight = 0;
  private readonly inbox: FromWorker[] = [];
  private waiter: ((message: FromWorker | null) => void) | null = null;
  failure: string | null = null;

  constructor(init: WorkerInit) {
    this.worker = new Worker(workerUrl, { workerData: init });
    this.worker.on("message", (message: FromWorker) => {
      if (message.type === "tick") {
        this.done = message.done;
        this.errors = message.errors;
        this.inflight = message.inflight;
        return;
      }
      this.deliver(message);
    });
    this.worker.on("error", (error) => {
      this.failure = error.stack ?? error.message;
      this.deliver({ type: "init-failed", message: `load generator crashed: ${error.message}` });
    });
    this.worker.on("exit", (code) => {
      this.failure ??= `load generator thread exited (${code})`;
      this.deliver({ type: "init-failed", message: this.failure });
    });
  }

  private deliver(message: FromWorker): void {
    const waiter = this.waiter;
    if (waiter !== null) {
      this.waiter = null;
      waiter(message);
    } else this.inbox.push(message);
  }

  /** The next non-tick message, or null past the timeout. */
  next(timeoutMs: number): Promise<FromWorker | null> {
    const queued = this.inbox.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolveNext) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        resolveNext(null);
      }, timeoutMs);
      this.waiter = (message) => {
        clearTimeout(timer);
        resolveNext(message);
      };
    });
  }

  send(message: ToWorker): void {
    this.worker.postMessage(message);
  }

  resetCounters(): void {
    this.done = 0;
    this.errors = 0;
    this.inflight = 0;
  }

  async close(): Promise<void> {
    try {
      this.send({ type: "close" });
      await this.next(2_000);
    } catch {
      // the thread is gone already
    }
    await this.worker.terminate();
  }
}

// ---------------------------------------------------------------- one phase

interface CpuSnapshot {
  readonly at: number;
  readonly servers: (number | null)[];
  readonly machine: number | null;
  readonly self: NodeJS.CpuUsage;
}

function snapshot(cluster: BenchCluster): CpuSnapshot {
  return {
    at: performance.now(),
    servers: cluster.nodes.map((node) => cpuSeconds(node.pid)),
    machine: machineBusySeconds(),
    self: process.cpuUsage(),
  };
}

async function runPhase(
  cluster: BenchCluster,
  workers: LoadWorker[],
  op: PhaseOp,
): Promise<PhaseReport> {
  const leaderBefore = await cluster.leader();
  const isLoad = op === "load";
  const warmupMs = isLoad ? 0 : warmupSeconds * 1000;
  const measureMs = isLoad ? 0 : measureSeconds * 1000;
  const startAt = Date.now() + 200;
  let aborted: string | null = null;
  const abort = (reason: string) => {
    if (aborted !== null) return;
    aborted = reason;
    for (const worker of workers) worker.send({ type: "abort", reason });
  };
  const unsubscribe = cluster.nodes.map((node) =>
    node.onExit((description) =>
      abort(`${cluster.system} node ${node.name} exited (${description})`),
    ),
  );

  let cpuStart: CpuSnapshot | null = null;
  let cpuEnd: CpuSnapshot | null = null;
  const timers: NodeJS.Timeout[] = [];
  timers.push(
    setTimeout(
      () => {
        cpuStart = snapshot(cluster);
      },
      Math.max(0, startAt + warmupMs - Date.now()),
    ),
  );
  if (!isLoad)
    timers.push(
      setTimeout(
        () => {
          cpuEnd = snapshot(cluster);
        },
        Math.max(0, startAt + warmupMs + measureMs - Date.now()),
      ),
    );

  // The watchdog: no completion for stallMs, or most requests failing, ends the phase early.
  const history: { at: number; done: number; errors: number }[] = [];
  const watchdog = setInterval(() => {
    const now = Date.now();
    if (now < startAt) return;
    let done = 0;
    let errors = 0;
    let inflight = 0;
    for (const worker of workers) {
      done += worker.done;
      errors += worker.errors;
      inflight += worker.inflight;
    }
    history.push({ at: now, done, errors });
    const stallRef = history.find((entry) => entry.at >= now - stallMs - 250);
    if (stallRef !== undefined && now - stallRef.at >= stallMs - 250 && stallRef.done === done)
      abort(`stalled: no request completed for ${stallMs / 1000} s (${inflight} in flight)`);
    const spikeRef = history.find((entry) => entry.at >= now - 3_250);
    if (spikeRef !== undefined && now - spikeRef.at >= 2_750) {
      const failed = errors - spikeRef.errors;
      const completed = done - spikeRef.done;
      if (failed >= 50 && failed > completed / 2)
        abort(`error spike: ${failed} of ${completed} requests failed within 3 s`);
    }
    if (history.length > 200) history.splice(0, history.length - 200);
  }, 500);

  const hardLimitMs = isLoad ? loadTimeoutMs : warmupMs + measureMs + drainMs + 2_000;
  timers.push(
    setTimeout(
      () => abort(`did not finish within ${Math.round(hardLimitMs / 1000)} s`),
      startAt - Date.now() + hardLimitMs,
    ),
  );

  for (const worker of workers) {
    worker.resetCounters();
    worker.send({ type: "phase", op, startAt, warmupMs, measureMs, drainMs });
  }
  const waitMs = startAt - Date.now() + hardLimitMs + drainMs + 5_000;
  const replies = await Promise.all(workers.map((worker) => worker.next(waitMs)));
  clearInterval(watchdog);
  for (const timer of timers) clearTimeout(timer);
  for (const off of unsubscribe) off();
  if (isLoad || cpuEnd === null) cpuEnd = snapshot(cluster);

  const results: PhaseResult[] = [];
  replies.forEach((reply, k) => {
    if (reply?.type === "result") results.push(reply.result);
    else {
      const why =
        reply === null
          ? `load-generator thread ${k} did not report within ${Math.round(waitMs / 1000)} s`
          : reply.type === "init-failed"
            ? reply.message
            : `load-generator thread ${k} sent ${reply.type}`;
      aborted ??= why;
    }
  });

  const merged = hdr.build({
    bitBucketSize: 32,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
  });
  const errors: Record<string, number> = {};
  const errorSamples: string[] = [];
  let ok = 0;
  let unfinished = 0;
  let measuredMs = 0;
  for (const result of results) {
    ok += result.ok;
    unfinished += result.unfinished;
    measuredMs = Math.max(measuredMs, result.measuredMs);
    for (const [code, count] of Object.entries(result.errors))
      errors[code] = (errors[code] ?? 0) + count;
    for (const sample of result.errorSamples)
      if (errorSamples.length < 5) errorSamples.push(sample);
    if (result.aborted !== null) aborted ??= result.aborted;
    if (result.histogram !== "") {
      const part = hdr.decodeFromCompressedBase64(result.histogram);
      merged.add(part);
      part.destroy();
    }
  }
  const errorCount = Object.values(errors).reduce((sum, count) => sum + count, 0);
  const latencyMs: Latency | null =
    merged.totalCount === 0
      ? null
      : {
          p50: merged.getValueAtPercentile(50) / 1000,
          p90: merged.getValueAtPercentile(90) / 1000,
          p99: merged.getValueAtPercentile(99) / 1000,
          p999: merged.getValueAtPercentile(99.9) / 1000,
          max: merged.maxValue / 1000,
          mean: merged.mean / 1000,
        };
  merged.destroy();

  const serverCpuPercent: Record<string, number | null> = {};
  let loadGeneratorCpuPercent: number | null = null;
  let otherProcessesCpuPercent: number | null = null;
  const start = cpuStart as CpuSnapshot | null;
  const end = cpuEnd as CpuSnapshot | null;
  if (start !== null && end !== null && end.at > start.at) {
    const wallSeconds = (end.at - start.at) / 1000;
    cluster.nodes.forEach((node, k) => {
      const before = start.servers[k];
      const after = end.servers[k];
      serverCpuPercent[node.name] =
        before === null || before === undefined || after === null || after === undefined
          ? null
          : Math.round(((after - before) / wallSeconds) * 100);
    });
    const selfSeconds =
      (end.self.user - start.self.user + end.self.system - start.self.system) / 1e6;
    loadGeneratorCpuPercent = Math.round((selfSeconds / wallSeconds) * 100);
    if (start.machine !== null && end.machine !== null) {
      const ours = Object.values(serverCpuPercent).reduce<number>((sum, p) => sum + (p ?? 0), 0);
      const machinePercent = ((end.machine - start.machine) / wallSeconds) * 100;
      otherProcessesCpuPercent = Math.max(
        0,
        Math.round(machinePercent - ours - loadGeneratorCpuPercent),
      );
    }
  }
  const measuredSeconds = measuredMs / 1000;
  return {
    op,
    label: phaseLabels[cluster.system][op],
    opsPerSecond: measuredSeconds > 0 ? ok / measuredSeconds : 0,
    ok,
    errors,
    errorCount,
    errorSamples,
    latencyMs,
    measuredSeconds: Math.round(measuredSeconds * 1000) / 1000,
    unfinished,
    aborted,
    serverCpuPercent,
    loadGeneratorCpuPercent,
    otherProcessesCpuPercent,
    leaderBefore,
    leaderAfter: await cluster.leader(),
    leaderStateAfter: await cluster.leaderDetails(),
  };
}

function cpuText(phase: PhaseReport): string {
  const servers = Object.entries(phase.serverCpuPercent)
    .map(([name, percent]) => `${name} ${percent === null ? "?" : `${percent}%`}`)
    .join(" ");
  const self = phase.loadGeneratorCpuPercent === null ? "?" : `${phase.loadGeneratorCpuPercent}%`;
  const others =
    phase.otherProcessesCpuPercent === null ? "" : `, others ${phase.otherProcessesCpuPercent}%`;
  return `${servers}, bench ${self}${others}`;
}

function phaseLine(system: SystemName, phase: PhaseReport): string {
  const errors = phase.errorCount === 0 ? "0" : JSON.stringify(phase.errors);
  const head = `  ${system.padEnd(9)}  ${phase.label.padEnd(20)}`;
  const abortedText = phase.aborted !== null ? `  ABORTED: ${phase.aborted}` : "";
  if (phase.op === "load")
    return `${head} ${integer.format(phase.ok)} keys in ${phase.measuredSeconds.toFixed(1)} s (${integer.format(phase.opsPerSecond)} writes/s), errors ${errors}${abortedText}`;
  const leaderNote =
    phase.leaderBefore?.name !== phase.leaderAfter?.name ||
    phase.leaderBefore?.term !== phase.leaderAfter?.term
      ? `  LEADER CHANGED ${phase.leaderBefore?.name ?? "?"}@${phase.leaderBefore?.term ?? "?"} -> ${phase.leaderAfter?.name ?? "?"}@${phase.leaderAfter?.term ?? "?"}`
      : "";
  return `${head} ${integer.format(phase.opsPerSecond).padStart(8)} ops/s  p50 ${ms(phase.latencyMs?.p50).padStart(8)}  p99 ${ms(phase.latencyMs?.p99).padStart(8)}  errors ${errors}  [CPU ${cpuText(phase)}]${leaderNote}${abortedText}`;
}

// ---------------------------------------------------------------- one system

async function runSystem(system: SystemName): Promise<SystemReport> {
  const report: SystemReport = {
    system,
    version: system === "stageraft" ? `${packageVersion} (${gitDescription()})` : "",
    transport:
      system === "stageraft"
        ? `WebSocket, JSON frames: ${options.connections} sockets x ${options.window} pipelined requests`
        : `HTTP/1.1 keep-alive, etcd v3 JSON gateway: ${options.connections} x ${options.window} sockets, 1 request each (${options.etcdClient === "http" ? "node:http" : "fetch"})`,
    status: "complete",
    phases: [],
    nodes: [],
  };
  state.systems[system] = report;
  let binary: string | null = null;
  if (system === "etcd") {
    if (!options.etcd) {
      report.status = "skipped";
      report.reason = "--no-etcd";
      out("etcd: skipped (--no-etcd)");
      return report;
    }
    binary = EtcdCluster.find();
    if (binary === null) {
      report.status = "skipped";
      report.reason = "etcd is not on the PATH";
      out(
        "etcd: skipped — `etcd` is not on the PATH (Debian: apt-get install etcd-server etcd-client)",
      );
      return report;
    }
  }

  const started = performance.now();
  let cluster: BenchCluster;
  try {
    if (system === "stageraft") {
      cluster = await StageraftCluster.start({
        cli,
        parentDir: settings.dataDir,
        config: stageraftConfig,
        startTimeoutMs,
      });
    } else {
      const etcd = await EtcdCluster.start({
        binary: binary!,
        parentDir: settings.dataDir,
        timing: raftTiming,
        startTimeoutMs,
      });
      report.version = etcd.version;
      cluster = etcd;
    }
  } catch (error) {
    report.status = "failed";
    report.reason = `the cluster did not start: ${(error as Error).message}`;
    state.problems.push(`${system}: ${report.reason}`);
    out(`${system}: FAILED to start: ${(error as Error).message}`);
    return report;
  }
  if (system === "etcd" && report.version === "") report.version = "?";

  const workers: LoadWorker[] = [];
  try {
    report.startupSeconds = Math.round((performance.now() - started) / 100) / 10;
    const leader = await cluster.waitForLeader(startTimeoutMs);
    report.leader = leader;
    const leaderNode = cluster.nodes.find((node) => node.name === leader.name)!;
    const endpoints = Array.from({ length: options.connections }, (_, k) =>
      options.target === "leader"
        ? leaderNode.clientAddress
        : cluster.nodes[k % cluster.nodes.length]!.clientAddress,
    );
    report.endpoints = [...new Set(endpoints)];
    out(
      `${system} ${report.version}: 3 nodes up in ${report.startupSeconds} s, leader ${leader.name} (term ${leader.term}); connections to ${options.target === "leader" ? `the leader ${leaderNode.clientAddress}` : "all nodes"}`,
    );

    for (let k = 0; k < workerCount; k++) {
      const mine = endpoints.filter((_, c) => c % workerCount === k);
      const from = Math.floor((options.keys * k) / workerCount);
      const to = Math.floor((options.keys * (k + 1)) / workerCount);
      const worker = new LoadWorker({
        system,
        endpoints: mine,
        window: options.window,
        keys: options.keys,
        valueBytes: options.valueBytes,
        requestTimeoutMs: options.requestTimeout,
        etcdClient: options.etcdClient,
        seed: 0x5eed + k * 7919,
        loadRange: [from, to],
      });
      workers.push(worker);
      state.workers.push(worker);
    }
    const ready = await Promise.all(workers.map((worker) => worker.next(20_000)));
    const notReady = ready.find((message) => message?.type !== "ready");
    if (notReady !== undefined)
      throw new Error(
        `the load generator could not connect: ${notReady === null ? "no answer within 20 s" : notReady.type === "init-failed" ? notReady.message : notReady.type}`,
      );

    for (const op of phasesOf[system]) {
      const dead = cluster.nodes.filter((node) => !node.alive);
      if (dead.length > 0) {
        report.status = "partial";
        report.reason = `skipped the phases from ${op} on: ${dead.map((node) => `${node.name} ${node.exitDescription}`).join(", ")}`;
        break;
      }
      const phase = await runPhase(cluster, workers, op);
      report.phases.push(phase);
      out(phaseLine(system, phase));
      if (phase.aborted !== null) {
        report.status = "partial";
        report.reason ??= "a phase was aborted (see PROBLEMS)";
        state.problems.push(`${system} ${phase.label}: aborted: ${phase.aborted}`);
      }
      if (phase.errorCount > 0)
        state.problems.push(
          `${system} ${phase.label}: ${phase.errorCount} errors ${JSON.stringify(phase.errors)}; e.g. ${phase.errorSamples[0] ?? ""}`,
        );
      if (phase.unfinished > 0)
        state.problems.push(
          `${system} ${phase.label}: ${phase.unfinished} requests unanswered after the ${drainMs / 1000} s drain`,
        );
      // A few failed loads only make some reads fail (BAD_VALUE); most failing: stop here.
      if (phase.op === "load" && (phase.aborted !== null || phase.ok < options.keys * 0.9)) {
        report.status = "partial";
        report.reason = `the load step wrote ${phase.ok} of ${options.keys} keys: the phases would not be meaningful`;
        break;
      }
      await sleep(300);
    }
    report.leaderState = await cluster.leaderDetails();
  } catch (error) {
    report.status = "failed";
    report.reason = (error as Error).message;
    state.problems.push(`${system}: ${report.reason}`);
    out(`${system}: FAILED: ${(error as Error).message}`);
  } finally {
    await Promise.all(workers.map((worker) => worker.close()));
    state.workers = state.workers.filter((worker) => !workers.includes(worker));
    report.nodes = cluster.nodes.map((node) => ({
      name: node.name,
      client: node.clientAddress,
      diedDuringRun: node.alive ? null : (node.exitDescription ?? "stopped"),
      warnLines: node.warnLines,
      errorLines: node.errorLines,
      firstProblemLines: node.problems,
      messages: Object.fromEntries([...node.messageCounts].sort((a, b) => b[1] - a[1])),
      ...(node.alive ? {} : { outputTail: node.tail(40) }),
    }));
    for (const node of report.nodes) {
      if (node.diedDuringRun !== null)
        state.problems.push(`${system} ${node.name} died during the run: ${node.diedDuringRun}`);
      if (node.errorLines > 0)
        state.problems.push(
          `${system} ${node.name} logged ${node.errorLines} error lines, e.g. ${node.firstProblemLines[0] ?? ""}`,
        );
    }
    await cluster.stop();
  }
  return report;
}

// ---------------------------------------------------------------- the report

const fairness = [
  "Same machine, one system at a time (never both running), each on a fresh 3-node cluster with fresh data dirs on the same disk.",
  `Same workload: ${settings.keyBytes}-byte keys, ${settings.valueBytes}-byte values, ${settings.keys} keys written once, then chosen uniformly at random; ${settings.connections} connections x ${settings.window} = ${settings.inFlight} requests in flight (closed loop); ${warmupSeconds} s warm-up (not measured), then ${measureSeconds} s measured per phase.`,
  "Same durability: stageraft wal.sync=true (the WAL is fsynced before a write is acknowledged); etcd fsyncs its WAL before acknowledging (its default; no unsafe flags).",
  `Same Raft timing: heartbeat ${settings.raftTiming.heartbeatMs} ms, election timeout ${settings.raftTiming.electionTimeoutMs} ms (etcd's defaults).`,
  "Reads: linearizable = stageraft ReadIndex vs etcd's default range (also ReadIndex); stale = stageraft 'stale' vs etcd 'serializable' (served locally); lease: etcd has no lease reads, so no etcd figure.",
  "Latency is as the client sees it in a closed loop at this concurrency (no coordinated-omission correction). The load generator shares the machine's cores with the servers; its CPU is reported ('bench'), and so is the CPU of every other process on the machine ('others': noise from other jobs).",
];

const transportNote = [
  "NOTE: the transports differ. stageraft is measured through its own protocol, JSON frames over",
  `WebSocket (${settings.connections} sockets, ${settings.window} requests pipelined on each). etcd is measured through its`,
  `v3 JSON gateway over HTTP/1.1 keep-alive (${settings.inFlight} sockets, one request on each, as HTTP/1.1 allows),`,
  "which is grpc-gateway translating to etcd's gRPC API inside the server: an extra hop and base64",
  "that etcd's native gRPC clients do not pay. The figures compare these two access paths on this",
  "machine, not the best each system can do.",
];

/** Other processes took more than a quarter of a core during the phase: its figures are noisy. */
const noiseLimitPercent = 25;
function noisy(phase: PhaseReport | undefined): boolean {
  return (phase?.otherProcessesCpuPercent ?? 0) > noiseLimitPercent;
}

function noiseNote(phases: readonly (PhaseReport | undefined)[]): string | null {
  if (!phases.some((phase) => noisy(phase))) return null;
  return `  * other processes on the machine used more than ${noiseLimitPercent}% of a core during this phase ('others'): the figure is noisy`;
}

function systemTable(report: SystemReport): string {
  const rows = report.phases
    .filter((phase) => phase.op !== "load")
    .map((phase) => [
      phase.label,
      `${integer.format(phase.opsPerSecond)}${noisy(phase) ? "*" : ""}`,
      ms(phase.latencyMs?.p50),
      ms(phase.latencyMs?.p90),
      ms(phase.latencyMs?.p99),
      ms(phase.latencyMs?.p999),
      ms(phase.latencyMs?.max),
      String(phase.errorCount),
      cpuText(phase),
      phase.aborted === null ? "ok" : "ABORTED",
    ]);
  return table(
    ["phase", "ops/s", "p50", "p90", "p99", "p99.9", "max", "errors", "CPU (% of a core)", "run"],
    rows,
  );
}

interface ComparedPhase {
  readonly noisy: boolean;
  readonly opsPerSecond: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
}

interface ComparisonRow {
  readonly phase: PhaseOp;
  readonly stageraft: ComparedPhase | null;
  readonly etcd: ComparedPhase | null;
  /** stageraft ops/s divided by etcd ops/s. */
  readonly throughputRatio: number | null;
  readonly note?: string;
}

function comparison(): ComparisonRow[] {
  const stageraft = state.systems.stageraft;
  const etcd = state.systems.etcd;
  const pick = (report: SystemReport | undefined, op: PhaseOp) => {
    const phase = report?.phases.find((candidate) => candidate.op === op);
    if (phase === undefined || phase.aborted !== null) return null;
    return {
      noisy: noisy(phase),
      opsPerSecond: Math.round(phase.opsPerSecond),
      p50Ms: phase.latencyMs?.p50 ?? null,
      p99Ms: phase.latencyMs?.p99 ?? null,
    };
  };
  return (["put", "get-linearizable", "get-lease", "get-stale"] as const).map((op) => {
    const a = pick(stageraft, op);
    const b = pick(etcd, op);
    return {
      phase: op,
      stageraft: a,
      etcd: b,
      throughputRatio:
        a !== null && b !== null && b.opsPerSecond > 0 ? a.opsPerSecond / b.opsPerSecond : null,
      ...(op === "get-lease" ? { note: "etcd has no lease reads" } : {}),
    };
  });
}

function printFinal(status: string): void {
  out();
  for (const system of ["stageraft", "etcd"] as const) {
    const report = state.systems[system];
    if (report === undefined) continue;
    if (report.status === "skipped") continue;
    out(`${system} ${report.version} — ${report.transport}`);
    if (report.phases.length > 0) out(systemTable(report));
    const note = noiseNote(report.phases.filter((phase) => phase.op !== "load"));
    if (note !== null) out(note);
    const load = report.phases.find((phase) => phase.op === "load");
    if (load !== undefined)
      out(
        `  (load: ${integer.format(load.ok)} keys in ${load.measuredSeconds.toFixed(1)} s = ${integer.format(load.opsPerSecond)} writes/s, not counted above)`,
      );
    if (report.status !== "complete") out(`  status: ${report.status}: ${report.reason ?? ""}`);
    const noisy = report.nodes.filter((node) => node.warnLines + node.errorLines > 0);
    for (const node of noisy) {
      const top = Object.entries(node.messages)
        .slice(0, 3)
        .map(([message, count]) => `${count}x ${message}`)
        .join("; ");
      out(
        `  ${node.name} logged ${node.warnLines} warn and ${node.errorLines} error lines: ${top}`,
      );
    }
    out();
  }

  const etcd = state.systems.etcd;
  const stageraft = state.systems.stageraft;
  if (etcd !== undefined && etcd.status !== "skipped" && stageraft !== undefined) {
    out(`stageraft vs etcd ${etcd.version}, side by side`);
    for (const line of transportNote) out(line);
    out("Fair in the rest:");
    for (const line of fairness) out(`  - ${line}`);
    const rows = comparison().map((row) => {
      const label = phaseLabels.stageraft[row.phase];
      const a = row.stageraft;
      const b = row.etcd;
      return [
        label,
        a === null ? "-" : `${integer.format(a.opsPerSecond)}${a.noisy ? "*" : ""}`,
        b === null ? (row.note ?? "-") : `${integer.format(b.opsPerSecond)}${b.noisy ? "*" : ""}`,
        row.throughputRatio === null ? "-" : `${row.throughputRatio.toFixed(2)}x`,
        a === null ? "-" : `${ms(a.p50Ms)} / ${ms(a.p99Ms)}`,
        b === null ? "-" : `${ms(b.p50Ms)} / ${ms(b.p99Ms)}`,
      ];
    });
    out(
      table(
        [
          "phase",
          "stageraft ops/s",
          "etcd ops/s",
          "stageraft/etcd",
          "stageraft p50 / p99",
          "etcd p50 / p99",
        ],
        rows,
      ),
    );
    out("  (etcd: 'get linearizable' is a default range, 'get stale' a serializable range)");
    const compared = comparison();
    if (compared.some((row) => row.stageraft?.noisy || row.etcd?.noisy))
      out(
        `  * other processes used more than ${noiseLimitPercent}% of a core during that phase: the figure, and its ratio, are noisy`,
      );
    out();
  } else if (etcd?.status === "skipped") {
    out(`etcd comparison: skipped (${etcd.reason})`);
    out();
  }

  if (state.problems.length > 0) {
    out("PROBLEMS:");
    for (const problem of state.problems) out(`  - ${problem}`);
    out();
  }
  const path = writeResults(status);
  out(`status: ${status}; results written to ${path ?? "(could not write the JSON)"}`);
}

function writeResults(status: string): string | null {
  const finishedAt = new Date();
  const document = {
    schema: "stageraft-bench/1",
    status,
    startedAt: state.startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationSeconds: Math.round((finishedAt.getTime() - state.startedAt.getTime()) / 100) / 10,
    command: process.argv.slice(2),
    machine: state.machine,
    settings,
    fairness,
    transportNote: transportNote.join(" "),
    systems: state.systems,
    comparison: comparison(),
    problems: state.problems,
  };
  try {
    const path = resolve(options.out);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${JSON.stringify(document, null, 2)}\n`);
    return path;
  } catch (error) {
    process.stderr.write(`bench: cannot write ${options.out}: ${(error as Error).message}\n`);
    return null;
  }
}

// ---------------------------------------------------------------- start, stop, timeouts

/** Ctrl-C, the global timeout, a crash: stop everything synchronously, report, exit. */
function emergency(status: string, message: string, exitCode: number): void {
  if (state.finished) return;
  state.finished = true;
  process.stderr.write(`\nbench: ${message} — stopping every process it started\n`);
  for (const worker of state.workers) void worker.worker.terminate();
  killEverythingSync();
  try {
    printFinal(status);
  } catch (error) {
    process.stderr.write(`bench: could not print the report: ${(error as Error).message}\n`);
  }
  process.exit(exitCode);
}

process.on("exit", () => killEverythingSync());
process.on("SIGINT", () => emergency("interrupted", "interrupted (SIGINT)", 130));
process.on("SIGTERM", () => emergency("interrupted", "terminated (SIGTERM)", 143));
process.on("SIGHUP", () => emergency("interrupted", "hang-up (SIGHUP)", 129));
process.on("uncaughtException", (error) =>
  emergency("failed", `crashed: ${error.stack ?? error.message}`, 1),
);
process.on("unhandledRejection", (error) =>
  emergency("failed", `crashed: ${(error as Error)?.stack ?? String(error)}`, 1),
);

async function main(): Promise<void> {
  if (!existsSync(cli)) {
    process.stderr.write(`bench: ${cli} is missing: run \`npm run build\` first\n`);
    process.exit(1);
  }
  if (!existsSync(fileURLToPath(workerUrl))) {
    process.stderr.write(`bench: ${fileURLToPath(workerUrl)} is missing: run \`npm run build\`\n`);
    process.exit(1);
  }
  mkdirSync(settings.dataDir, { recursive: true });
  const globalTimer = setTimeout(
    () =>
      emergency("timeout", `the global timeout (${Math.round(globalTimeoutSeconds)} s) ran out`, 3),
    globalTimeoutSeconds * 1000,
  );
  state.machine = machineInfo(settings.dataDir);
  out(`stageraft bench — ${state.startedAt.toISOString()}`);
  for (const line of describeMachine(state.machine)) out(line);
  out(
    `settings: 3 nodes per system on 127.0.0.1; ${settings.keyBytes}-byte keys, ${settings.valueBytes}-byte values, ${integer.format(settings.keys)} keys; ` +
      `${settings.connections} connections x ${settings.window} in flight = ${settings.inFlight} requests in flight; ` +
      `${workerCount} load-generator thread${workerCount > 1 ? "s" : ""}; ${warmupSeconds} s warm-up + ${measureSeconds} s measured per phase; ` +
      `connections to the ${settings.target === "leader" ? "leader" : "nodes in turn"}; request timeout ${settings.requestTimeoutMs} ms; global timeout ${Math.round(globalTimeoutSeconds)} s`,
  );
  out(
    `durability: stageraft wal.sync=true (fsync before ack), engines.kv=level; etcd fsyncs its WAL (default). Raft: heartbeat ${settings.raftTiming.heartbeatMs} ms, election ${settings.raftTiming.electionTimeoutMs} ms on both`,
  );
  out();

  await runSystem("stageraft");
  await runSystem("etcd");
  clearTimeout(globalTimer);
  if (state.finished) return;
  state.finished = true;
  printFinal(state.problems.length === 0 ? "complete" : "complete-with-problems");
  process.exitCode = state.problems.length === 0 ? 0 : 1;
}

void main();
