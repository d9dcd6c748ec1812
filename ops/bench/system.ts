/**
 * One system's run: start its cluster (stageraft, etcd, or the bare echo server), the
 * load-generator threads, the load step and the phases, then the scenario phases; stop it all.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { echoScript, type KvConfig, raftTiming, root } from "./kv-options.js";
import {
  type BenchState,
  type NodeReport,
  out,
  phaseLine,
  type SystemReport,
} from "./kv-report.js";
import { EchoServer, EtcdCluster, StageraftCluster } from "./launch.js";
import type { PhaseOp } from "./load.js";
import { LoadWorker } from "./load-worker.js";
import { runPhase } from "./phase.js";
import type { BenchCluster, ServerProcess, SystemName } from "./processes.js";
import { runScenario, scenarioLine, scenarioOrder } from "./scenarios.js";

const phaseLabels: Record<PhaseOp, string> &
  Partial<Record<SystemName, Partial<Record<PhaseOp, string>>>> = {
  load: "load (each key once)",
  put: "put",
  "get-linearizable": "get linearizable",
  "get-lease": "get lease",
  "get-stale": "get stale",
  etcd: { "get-linearizable": "range (linearizable)", "get-stale": "range serializable" },
  echo: { put: "put (echoed)" },
};
const labelOf = (system: SystemName, op: PhaseOp) => phaseLabels[system]?.[op] ?? phaseLabels[op];

/** stageraft driven through its etcd v3 gRPC door by the etcd3 client (`--stageraft-client`). */
const etcd3Door = (config: KvConfig, system: SystemName) =>
  system === "stageraft" && config.options.stageraftClient === "etcd3";

function phasesOf(config: KvConfig, system: SystemName): PhaseOp[] {
  // etcd serves linearizable reads by ReadIndex only: it has no lease-read mode. The echo
  // server only echoes: one put phase, no load step (there is nothing to read back).
  if (system === "echo") return config.loadPhases.includes("put") ? ["put"] : [];
  // Neither has stageraft through the etcd3 client (--stageraft-client etcd3): same API.
  if (system === "etcd" || etcd3Door(config, system))
    return ["load", ...config.loadPhases.filter((op) => op !== "get-lease")];
  return ["load", ...config.loadPhases];
}

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

function transportOf(config: KvConfig, system: SystemName): string {
  const { connections, window, etcdClient } = config.options;
  if (etcd3Door(config, system))
    return `gRPC (etcd3) on stageraft's etcd v3 door (--listen-etcd): ${connections} HTTP/2 channels x ${window} calls in flight`;
  if (system === "stageraft")
    return `WebSocket, JSON frames: ${connections} sockets x ${window} pipelined requests`;
  if (system === "echo")
    return `uWebSockets.js echo server, the same WebSocket client and JSON put frames: ${connections} sockets x ${window} pipelined requests`;
  if (etcdClient === "grpc")
    return `gRPC (etcd3): ${connections} HTTP/2 channels x ${window} calls in flight`;
  return `HTTP/1.1 keep-alive, etcd v3 JSON gateway: ${connections} x ${window} sockets, 1 request each (${etcdClient === "http" ? "node:http" : "fetch"})`;
}

/** Why a system does not run, or null. */
function skipReason(config: KvConfig, system: SystemName): string | null {
  if (system === "etcd" && !config.options.etcd) return "--no-etcd";
  if (system === "etcd" && EtcdCluster.find() === null)
    return "`etcd` is not on the PATH (Debian: apt-get install etcd-server etcd-client)";
  if (system === "echo" && !config.options.echo) return "--no-echo";
  if (system === "echo" && !config.loadPhases.includes("put")) return "no put phase";
  return null;
}

async function startCluster(
  config: KvConfig,
  system: SystemName,
  report: SystemReport,
): Promise<BenchCluster> {
  const parentDir = config.settings.dataDir;
  const startTimeoutMs = config.startTimeoutMs;
  if (system === "stageraft")
    return StageraftCluster.start({
      cli: resolve(config.options.stageraftCli),
      parentDir,
      config: config.stageraftConfig,
      startTimeoutMs,
      etcdApi: etcd3Door(config, system),
    });
  if (system === "echo") return EchoServer.start({ script: echoScript, parentDir, startTimeoutMs });
  const etcd = await EtcdCluster.start({
    binary: EtcdCluster.find()!,
    parentDir,
    timing: raftTiming,
    startTimeoutMs,
  });
  report.version = etcd.version || "?";
  return etcd;
}

async function startWorkers(
  config: KvConfig,
  system: SystemName,
  endpoints: readonly string[],
): Promise<LoadWorker[]> {
  const { options, workerCount } = config;
  const workers: LoadWorker[] = [];
  for (let k = 0; k < workerCount; k++) {
    workers.push(
      new LoadWorker({
        system,
        endpoints: endpoints.filter((_, c) => c % workerCount === k),
        window: options.window,
        keys: options.keys,
        valueBytes: options.valueBytes,
        requestTimeoutMs: options.requestTimeout,
        etcdClient: options.etcdClient,
        stageraftClient: options.stageraftClient,
        seed: 0x5eed + k * 7919,
        loadRange: [
          Math.floor((options.keys * k) / workerCount),
          Math.floor((options.keys * (k + 1)) / workerCount),
        ],
      }),
    );
  }
  return workers;
}

async function runPhases(
  config: KvConfig,
  state: BenchState,
  cluster: BenchCluster,
  workers: LoadWorker[],
  report: SystemReport,
): Promise<void> {
  const system = cluster.system;
  for (const op of phasesOf(config, system)) {
    const dead = cluster.nodes.filter((node) => !node.alive);
    if (dead.length > 0) {
      report.status = "partial";
      report.reason = `skipped the phases from ${op} on: ${dead.map((node) => `${node.name} ${node.exitDescription}`).join(", ")}`;
      return;
    }
    const label = labelOf(etcd3Door(config, system) ? "etcd" : system, op);
    const phase = await runPhase(config, cluster, workers, op, label);
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
        `${system} ${phase.label}: ${phase.unfinished} requests unanswered after the ${config.drainMs / 1000} s drain`,
      );
    // A few failed loads only make some reads fail (BAD_VALUE); most failing: stop here.
    if (phase.op === "load" && (phase.aborted !== null || phase.ok < config.options.keys * 0.9)) {
      report.status = "partial";
      report.reason = `the load step wrote ${phase.ok} of ${config.options.keys} keys: the phases would not be meaningful`;
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

async function runScenarios(
  config: KvConfig,
  state: BenchState,
  cluster: BenchCluster,
  report: SystemReport,
): Promise<void> {
  const system = cluster.system;
  if (system === "echo" || report.status !== "complete") return;
  for (const name of scenarioOrder(config.scenarios)) {
    const scenario = await runScenario(config, system, cluster, name);
    report.scenarios.push(scenario);
    out(scenarioLine(system, scenario));
    if (scenario.error !== null) state.problems.push(`${system} ${name}: ${scenario.error}`);
  }
}

function nodeReports(cluster: BenchCluster, state: BenchState): NodeReport[] {
  const reports = cluster.nodes.map((node) => ({
    name: node.name,
    client: node.clientAddress,
    diedDuringRun: node.alive ? null : (node.exitDescription ?? "stopped"),
    warnLines: node.warnLines,
    errorLines: node.errorLines,
    firstProblemLines: node.problems,
    messages: Object.fromEntries([...node.messageCounts].sort((a, b) => b[1] - a[1])),
    ...(node.alive ? {} : { outputTail: node.tail(40) }),
  }));
  for (const node of reports) {
    if (node.diedDuringRun !== null)
      state.problems.push(
        `${cluster.system} ${node.name} died during the run: ${node.diedDuringRun}`,
      );
    if (node.errorLines > 0)
      state.problems.push(
        `${cluster.system} ${node.name} logged ${node.errorLines} error lines, e.g. ${node.firstProblemLines[0] ?? ""}`,
      );
  }
  return reports;
}

/** Where each connection goes (the leader, or the nodes in turn); says so. */
async function connectionEndpoints(
  config: KvConfig,
  cluster: BenchCluster,
  report: SystemReport,
): Promise<string[]> {
  const leader = await cluster.waitForLeader(config.startTimeoutMs);
  report.leader = leader;
  // The etcd3 client goes to the node's --listen-etcd address, every other to its client one.
  const doors = cluster instanceof StageraftCluster ? cluster.etcdAddresses : new Map();
  const address = (node: ServerProcess): string => doors.get(node.name) ?? node.clientAddress;
  const leaderNode = cluster.nodes.find((node) => node.name === leader.name)!;
  const toLeader = config.options.target === "leader";
  const endpoints = Array.from({ length: config.options.connections }, (_, k) =>
    address(toLeader ? leaderNode : cluster.nodes[k % cluster.nodes.length]!),
  );
  report.endpoints = [...new Set(endpoints)];
  out(
    `${cluster.system} ${report.version}: ${cluster.nodes.length} node(s) up in ${report.startupSeconds} s, leader ${leader.name} (term ${leader.term}); connections to ${toLeader ? `the leader ${address(leaderNode)}` : "all nodes"}`,
  );
  return endpoints;
}

export async function runSystem(
  config: KvConfig,
  state: BenchState,
  system: SystemName,
  track: (workers: LoadWorker[]) => void,
): Promise<SystemReport> {
  const report: SystemReport = {
    system,
    version:
      system === "stageraft"
        ? `${packageVersion} (${gitDescription()})`
        : system === "echo"
          ? "(uWebSockets.js)"
          : "",
    transport: transportOf(config, system),
    status: "complete",
    phases: [],
    scenarios: [],
    nodes: [],
  };
  state.systems[system] = report;
  const skip = skipReason(config, system);
  if (skip !== null) {
    report.status = "skipped";
    report.reason = skip;
    out(`${system}: skipped (${skip})`);
    return report;
  }
  const started = performance.now();
  let cluster: BenchCluster;
  try {
    cluster = await startCluster(config, system, report);
  } catch (error) {
    report.status = "failed";
    report.reason = `the cluster did not start: ${(error as Error).message}`;
    state.problems.push(`${system}: ${report.reason}`);
    out(`${system}: FAILED to start: ${(error as Error).message}`);
    return report;
  }
  let workers: LoadWorker[] = [];
  try {
    report.startupSeconds = Math.round((performance.now() - started) / 100) / 10;
    const endpoints = await connectionEndpoints(config, cluster, report);
    workers = await startWorkers(config, system, endpoints);
    track(workers);
    const ready = await Promise.all(workers.map((worker) => worker.next(20_000)));
    const notReady = ready.find((message) => message?.type !== "ready");
    if (notReady !== undefined)
      throw new Error(
        `the load generator could not connect: ${notReady === null ? "no answer within 20 s" : notReady.type === "init-failed" ? notReady.message : notReady.type}`,
      );
    await runPhases(config, state, cluster, workers, report);
    await runScenarios(config, state, cluster, report);
    report.leaderState = await cluster.leaderDetails();
  } catch (error) {
    report.status = "failed";
    report.reason = (error as Error).message;
    state.problems.push(`${system}: ${report.reason}`);
    out(`${system}: FAILED: ${(error as Error).message}`);
  } finally {
    await Promise.all(workers.map((worker) => worker.close()));
    track([]);
    report.nodes = nodeReports(cluster, state);
    await cluster.stop();
  }
  return report;
}
