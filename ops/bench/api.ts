/**
 * npm run bench -- api [--phases watch,txn,lease] [--seconds N] [--rounds R] [--no-etcd] …
 *
 * The etcd-API phases, stageraft and etcd side by side on fresh 3-node clusters, one system at
 * a time, alternating per round (stageraft, etcd, stageraft, etcd…): watch fan-out (events/s
 * delivered to --watchers watchers while puts run, with every watcher's events checked),
 * txn/s, lease keep-alives/s. Prints the machine, each run, and the ratios; writes
 * ops/bench/results/api-latest.json. Exit 1 when a check failed or a cluster did not start.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, InvalidArgumentError, Option } from "commander";
import { type ApiPhase, apiPhases, leasePhase, type PhaseFigure, txnPhase } from "./api-phases.js";
import { type ApiTarget, EtcdApiTarget, StageraftApiTarget } from "./api-targets.js";
import {
  type BenchCluster,
  cpuSeconds,
  EtcdCluster,
  killEverythingSync,
  machineBusySeconds,
  StageraftCluster,
  type SystemName,
} from "./launch.js";
import type { StageraftClientKind } from "./load-targets.js";
import { describeMachine, integer, machineInfo, ms, table } from "./report.js";
import { watchPhase } from "./watch-fanout.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");
const raft = { tickMs: 100, electionTicks: 10, heartbeatTicks: 1 };

function positiveInt(text: string): number {
  const parsed = Number(text);
  if (!Number.isInteger(parsed) || parsed < 1)
    throw new InvalidArgumentError("must be a positive integer");
  return parsed;
}
function nonNegative(text: string): number {
  const parsed = Number(text);
  if (!Number.isFinite(parsed) || parsed < 0)
    throw new InvalidArgumentError("must be a number >= 0");
  return parsed;
}
function phaseList(text: string): ApiPhase[] {
  const names = text.split(",").map((name) => name.trim());
  for (const name of names)
    if (!(apiPhases as readonly string[]).includes(name))
      throw new InvalidArgumentError(`unknown phase "${name}" (known: ${apiPhases.join(", ")})`);
  return apiPhases.filter((phase) => names.includes(phase));
}

interface Options {
  phases: ApiPhase[];
  seconds?: number;
  warmup?: number;
  quick?: boolean;
  rounds: number;
  connections: number;
  window: number;
  watchers: number;
  watchWindow: number;
  watchSockets: "one" | "each";
  txnKeys: number;
  leases: number;
  valueBytes: number;
  etcd: boolean;
  stageraftClient: StageraftClientKind;
  dataDir: string;
  requestTimeout: number;
  out: string;
}

function parse(argv: readonly string[]): Options {
  return new Command("bench api")
    .addOption(
      new Option("--phases <list>", "comma list of watch, txn, lease")
        .argParser(phaseList)
        .default([...apiPhases], "all"),
    )
    .addOption(
      new Option("--seconds <n>", "measured seconds per phase (default 10; --quick 3)").argParser(
        nonNegative,
      ),
    )
    .addOption(
      new Option("--warmup <n>", "txn/lease warm-up seconds (default 2; --quick 1)").argParser(
        nonNegative,
      ),
    )
    .option("--quick", "a smoke run: 3 s phases after 1 s warm-up")
    .addOption(
      new Option("--rounds <n>", "runs per system, alternating").argParser(positiveInt).default(1),
    )
    .addOption(
      new Option("--connections <n>", "client connections (txn, lease)")
        .argParser(positiveInt)
        .default(4),
    )
    .addOption(
      new Option("--window <n>", "requests in flight per connection (txn, lease)")
        .argParser(positiveInt)
        .default(32),
    )
    .addOption(
      new Option("--watchers <n>", "watchers in the watch phase")
        .argParser(positiveInt)
        .default(1_000),
    )
    .addOption(
      new Option("--watch-window <n>", "puts in flight under the watchers")
        .argParser(positiveInt)
        .default(8),
    )
    .addOption(
      new Option(
        "--watch-sockets <how>",
        "stageraft watchers: all on one socket (as etcd3 shares one gRPC stream), or db.watch each",
      )
        .choices(["one", "each"])
        .default("one"),
    )
    .addOption(
      new Option("--txn-keys <n>", "keys the txns choose from")
        .argParser(positiveInt)
        .default(1_000),
    )
    .addOption(
      new Option("--leases <n>", "leases the keep-alives choose from")
        .argParser(positiveInt)
        .default(100),
    )
    .addOption(new Option("--value-bytes <n>", "value size").argParser(positiveInt).default(256))
    .option("--no-etcd", "skip etcd")
    .addOption(
      new Option(
        "--stageraft-client <kind>",
        "stageraft's client: ws (its WebSocket protocol) or etcd3 (etcd's client on --listen-etcd)",
      )
        .choices(["ws", "etcd3"])
        .default("ws"),
    )
    .addOption(new Option("--data-dir <dir>", "where the temp data dirs go").default(os.tmpdir()))
    .addOption(
      new Option("--request-timeout <ms>", "per request").argParser(positiveInt).default(8_000),
    )
    .addOption(
      new Option("--out <file>", "JSON results").default(
        join(root, "ops", "bench", "results", "api-latest.json"),
      ),
    )
    .parse(argv, { from: "user" })
    .opts<Options>();
}

interface Run {
  readonly system: SystemName;
  readonly round: number;
  readonly version: string;
  readonly phases: (PhaseFigure & { otherCpuPercent: number | null })[];
  readonly problem: string | null;
}

const out = (line = "") => process.stdout.write(`${line}\n`);

function target(system: SystemName, endpoint: string, o: Options, shared = false): ApiTarget {
  // --stageraft-client etcd3: the etcd target, the same code, on stageraft's etcd door.
  return system === "stageraft" && o.stageraftClient === "ws"
    ? new StageraftApiTarget(endpoint, o.requestTimeout, shared)
    : new EtcdApiTarget(endpoint, o.requestTimeout);
}

/** CPU of the processes that are neither the servers nor this bench, % of one core. */
function othersMeter(cluster: BenchCluster): () => number | null {
  const at = performance.now();
  const ours = () => cluster.nodes.reduce((sum, node) => sum + (cpuSeconds(node.pid) ?? 0), 0);
  const self = () => (process.cpuUsage().user + process.cpuUsage().system) / 1e6;
  const start = { machine: machineBusySeconds(), ours: ours(), self: self() };
  return () => {
    const machine = machineBusySeconds();
    if (machine === null || start.machine === null) return null;
    const busy = machine - start.machine - (ours() - start.ours) - (self() - start.self);
    return Math.max(0, Math.round((busy / ((performance.now() - at) / 1000)) * 100));
  };
}

async function runPhase(phase: ApiPhase, system: SystemName, endpoint: string, o: Options) {
  const measureMs = (o.seconds ?? (o.quick ? 3 : 10)) * 1000;
  const warmupMs = (o.warmup ?? (o.quick ? 1 : 2)) * 1000;
  // The watch phase: one connection puts, one more carries the watchers.
  const count = phase === "watch" ? 2 : o.connections;
  const targets = Array.from({ length: count }, (_, k) =>
    target(system, endpoint, o, phase === "watch" && k === 1 && o.watchSockets === "one"),
  );
  try {
    const loop = { window: o.window, warmupMs, measureMs };
    if (phase === "txn")
      return await txnPhase(targets, { ...loop, keys: o.txnKeys, valueBytes: o.valueBytes });
    if (phase === "lease") return await leasePhase(targets, { ...loop, leases: o.leases });
    return await watchPhase(targets[0]!, targets[1]!, {
      watchers: o.watchers,
      window: o.watchWindow,
      measureMs,
      drainMs: 30_000,
      valueBytes: o.valueBytes,
    });
  } finally {
    await Promise.all(targets.map((t) => t.close().catch(() => {})));
  }
}

async function runSystem(system: SystemName, round: number, o: Options): Promise<Run> {
  const phases: Run["phases"] = [];
  let cluster: BenchCluster;
  let doors: ReadonlyMap<string, string> = new Map();
  let version = "";
  try {
    if (system === "stageraft") {
      const stageraft = await StageraftCluster.start({
        cli: join(root, "dist", "src", "cli.js"),
        parentDir: o.dataDir,
        config: { raft, wal: { sync: true }, engines: { kv: "level" }, log: { level: "info" } },
        startTimeoutMs: 30_000,
        etcdApi: o.stageraftClient === "etcd3",
      });
      doors = stageraft.etcdAddresses;
      cluster = stageraft;
    } else {
      const etcd = await EtcdCluster.start({
        binary: EtcdCluster.find()!,
        parentDir: o.dataDir,
        timing: raft,
        startTimeoutMs: 30_000,
      });
      version = etcd.version;
      cluster = etcd;
    }
  } catch (error) {
    return {
      system,
      round,
      version,
      phases,
      problem: `did not start: ${(error as Error).message}`,
    };
  }
  let problem: string | null = null;
  try {
    const leader = await cluster.waitForLeader(30_000);
    const endpoint =
      doors.get(leader.name) ??
      cluster.nodes.find((node) => node.name === leader.name)!.clientAddress;
    for (const phase of o.phases) {
      const others = othersMeter(cluster);
      const figure = await runPhase(phase, system, endpoint, o);
      phases.push({ ...figure, otherCpuPercent: others() });
      out(phaseLine(system, round, phases.at(-1)!));
      const c = figure.check;
      if (c !== undefined && (c.complete !== c.watchers || c.doubled > 0))
        problem ??= `watch check: ${c.watchers - c.complete} watchers incomplete, ${c.missing} missing, ${c.doubled} doubled, ${c.extra} extra`;
      const dead = cluster.nodes.filter((node) => !node.alive);
      if (dead.length > 0) {
        problem ??= `${dead.map((node) => `${node.name} ${node.exitDescription}`).join(", ")}`;
        break;
      }
    }
  } catch (error) {
    problem = (error as Error).stack ?? String(error);
  } finally {
    await cluster.stop();
  }
  return { system, round, version, phases, problem };
}

function phaseLine(system: SystemName, round: number, f: Run["phases"][number]): string {
  const errors = Object.keys(f.errors).length === 0 ? "0" : JSON.stringify(f.errors);
  const check =
    f.check === undefined
      ? ""
      : `  puts ${integer.format(f.puts?.perSecond ?? 0)}/s; check: ${f.check.complete}/${f.check.watchers} watchers got every event once (missing ${f.check.missing}, doubled ${f.check.doubled}, extra ${f.check.extra}); drained in ${ms(f.drainedMs)}`;
  const lag = f.phase === "watch" ? "lag " : "";
  return `  ${system.padEnd(9)} #${round} ${f.phase.padEnd(5)} ${integer.format(f.perSecond).padStart(10)} ${f.unit}  ${lag}p50 ${ms(f.p50Ms)}  p99 ${ms(f.p99Ms)}  errors ${errors}  others ${f.otherCpuPercent ?? "?"}%${check}`;
}

function summary(runs: readonly Run[], phases: readonly ApiPhase[]): string {
  const figures = (system: SystemName, phase: ApiPhase) =>
    runs
      .filter((r) => r.system === system)
      .flatMap((r) => r.phases.filter((p) => p.phase === phase).map((p) => p.perSecond));
  const mean = (xs: number[]) =>
    xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length;
  const rows = phases.map((phase) => {
    const a = figures("stageraft", phase);
    const b = figures("etcd", phase);
    const ma = mean(a);
    const mb = mean(b);
    const each = (xs: number[]) =>
      xs.length === 0 ? "-" : xs.map((x) => integer.format(x)).join(" / ");
    return [
      phase,
      ma === null ? "-" : integer.format(ma),
      each(a),
      mb === null ? "-" : integer.format(mb),
      each(b),
      ma !== null && mb !== null && mb > 0 ? `${(ma / mb).toFixed(2)}x` : "-",
    ];
  });
  return table(
    ["phase", "stageraft mean", "each run", "etcd mean", "each run", "stageraft/etcd"],
    rows,
  );
}

/** `npm run bench -- api …`; resolves with the exit code. */
export async function runApiBench(argv: readonly string[]): Promise<number> {
  const o = parse(argv);
  process.on("exit", () => killEverythingSync());
  const stop = (why: string, code: number) => {
    process.stderr.write(`\nbench api: ${why} — stopping every process it started\n`);
    killEverythingSync();
    process.exit(code);
  };
  process.on("SIGINT", () => stop("interrupted", 130));
  process.on("SIGTERM", () => stop("terminated", 143));
  // Each phase is bounded (request deadlines, the 30 s watch drain); this is the last resort.
  const perPhaseSeconds = (o.seconds ?? 10) + (o.warmup ?? 2) + 60;
  const limitSeconds = 120 + o.rounds * 2 * o.phases.length * perPhaseSeconds;
  setTimeout(
    () => stop(`the global timeout (${limitSeconds} s) ran out`, 3),
    limitSeconds * 1000,
  ).unref();
  const etcdBinary = o.etcd ? EtcdCluster.find() : null;
  const machine = machineInfo(resolve(o.dataDir));
  out(`stageraft bench api — ${new Date().toISOString()}`);
  for (const line of describeMachine(machine)) out(line);
  out(
    `settings: 3 nodes per system on 127.0.0.1, WAL fsync on, heartbeat 100 ms / election 1 s; phases ${o.phases.join(",")}; ` +
      `txn/lease: ${o.connections} connections x ${o.window} in flight; watch: ${o.watchers} watchers, ${o.watchWindow} puts in flight; ${o.valueBytes}-byte values; ${o.rounds} round(s)`,
  );
  if (o.etcd && etcdBinary === null)
    out("etcd: skipped — `etcd` is not on the PATH (Debian: apt-get install etcd-server)");
  const systems: SystemName[] = etcdBinary === null ? ["stageraft"] : ["stageraft", "etcd"];
  const runs: Run[] = [];
  for (let round = 1; round <= o.rounds; round++)
    for (const system of systems) {
      const run = await runSystem(system, round, o);
      runs.push(run);
      if (run.problem !== null) out(`  ${system} #${round}: PROBLEM: ${run.problem}`);
    }
  out();
  out(
    `stageraft (${o.stageraftClient === "etcd3" ? "the etcd3 npm client on its etcd v3 gRPC door, as etcd" : `WebSocket: one socket per connection; watchers: ${o.watchSockets === "one" ? "all on one socket" : "db.watch, a socket each"}`}) vs etcd ${runs.find((r) => r.system === "etcd")?.version ?? "(not run)"} (etcd3 npm client, gRPC: watchers share one stream)`,
  );
  out(summary(runs, o.phases));
  const path = resolve(o.out);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(
    path,
    `${JSON.stringify({ schema: "stageraft-bench-api/1", argv, machine, options: o, runs }, null, 2)}\n`,
  );
  out(`results written to ${path}`);
  return runs.some((run) => run.problem !== null) ? 1 : 0;
}
