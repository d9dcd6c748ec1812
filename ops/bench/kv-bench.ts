/**
 * The KV bench (`npm run bench` without a subcommand): stageraft, etcd and the bare echo server
 * one after the other, each through the same load generator; prints the machine, the settings,
 * a line per phase, the tables, and writes results/latest.json. Exits non-zero when something
 * broke (a node died, a phase stalled or errors spiked, a cluster did not start), after
 * reporting it. What it measures: ops/bench/README.md.
 */
import { existsSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { cli, type KvConfig, parseKvOptions } from "./kv-options.js";
import { type BenchState, out, printFinal } from "./kv-report.js";
import { killEverythingSync } from "./launch.js";
import type { LoadWorker } from "./load-worker.js";
import { workerScriptUrl } from "./load-worker.js";
import { describeMachine, integer, machineInfo } from "./report.js";
import { runSystem } from "./system.js";

function describeSettings(config: KvConfig): string[] {
  const o = config.options;
  const threads = config.workerCount;
  return [
    `settings: 3 nodes per system on 127.0.0.1; 16-byte keys, ${o.valueBytes}-byte values, ${integer.format(o.keys)} keys; ` +
      `${o.connections} connections x ${o.window} in flight = ${config.settings.inFlight} requests in flight; ` +
      `${threads} load-generator thread${threads > 1 ? "s" : ""}; ${config.warmupSeconds} s warm-up + ${config.measureSeconds} s measured per phase; ` +
      `phases ${o.phases.join(",")}; etcd client ${o.etcdClient}; connections to the ${o.target === "leader" ? "leader" : "nodes in turn"}; request timeout ${o.requestTimeout} ms; global timeout ${Math.round(config.globalTimeoutSeconds)} s`,
    `durability: stageraft wal.sync=true (fsync before ack), engines.kv=level; etcd fsyncs its WAL (default). Raft: heartbeat 100 ms, election 1000 ms on both`,
  ];
}

export async function runKvBench(argv: readonly string[]): Promise<number> {
  const config = parseKvOptions(["node", "bench", ...argv]);
  const state: BenchState = {
    startedAt: new Date(),
    machine: null,
    systems: {},
    problems: [],
    finished: false,
  };
  let workers: LoadWorker[] = [];

  /** Ctrl-C, the global timeout, a crash: stop everything synchronously, report, exit. */
  const emergency = (status: string, message: string, exitCode: number): void => {
    if (state.finished) return;
    state.finished = true;
    process.stderr.write(`\nbench: ${message} — stopping every process it started\n`);
    for (const worker of workers) void worker.worker.terminate();
    killEverythingSync();
    try {
      printFinal(config, state, status);
    } catch (error) {
      process.stderr.write(`bench: could not print the report: ${(error as Error).message}\n`);
    }
    process.exit(exitCode);
  };
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

  for (const needed of [cli, fileURLToPath(workerScriptUrl())])
    if (!existsSync(needed)) {
      process.stderr.write(`bench: ${needed} is missing: run \`npm run build\` first\n`);
      return 1;
    }
  mkdirSync(config.settings.dataDir, { recursive: true });
  const globalTimer = setTimeout(
    () =>
      emergency(
        "timeout",
        `the global timeout (${Math.round(config.globalTimeoutSeconds)} s) ran out`,
        3,
      ),
    config.globalTimeoutSeconds * 1000,
  );
  state.machine = machineInfo(config.settings.dataDir);
  out(`stageraft bench — ${state.startedAt.toISOString()}`);
  for (const line of describeMachine(state.machine)) out(line);
  for (const line of describeSettings(config)) out(line);
  out();
  const track = (running: LoadWorker[]) => {
    workers = running;
  };
  // One system at a time, never two running together.
  for (const system of ["stageraft", "etcd", "echo"] as const)
    await runSystem(config, state, system, track);
  clearTimeout(globalTimer);
  if (state.finished) return 1;
  state.finished = true;
  printFinal(config, state, state.problems.length === 0 ? "complete" : "complete-with-problems");
  return state.problems.length === 0 ? 0 : 1;
}
