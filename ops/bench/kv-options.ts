/** The KV bench's command line (`npm run bench [-- …]`) and the settings derived from it. */
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, InvalidArgumentError, Option } from "commander";
import type { PhaseOp } from "./load.js";
import type { EtcdClientKind, StageraftClientKind } from "./load-targets.js";
import type { RaftTiming } from "./processes.js";

/** Closed-loop phases, run by the load-generator threads. */
export const loadPhases = ["put", "get-linearizable", "get-lease", "get-stale"] as const;
/** Opt-in phases with their own driver (failover.ts, restart.ts, flood.ts). */
export const scenarioPhases = ["failover", "restart", "flood"] as const;
export type ScenarioName = (typeof scenarioPhases)[number];
type AnyPhase = (typeof loadPhases)[number] | ScenarioName;

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

export const root = findRoot(dirname(fileURLToPath(import.meta.url)));
export const cli = join(root, "dist", "src", "cli.js");
export const echoScript = join(root, "dist", "ops", "bench", "echo-server.js");

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

const knownPhases: readonly AnyPhase[] = [...loadPhases, ...scenarioPhases];

function phaseList(value: string): AnyPhase[] {
  const names = value.split(",").map((name) => name.trim());
  for (const name of names)
    if (!(knownPhases as readonly string[]).includes(name))
      throw new InvalidArgumentError(
        `unknown phase "${name}" (known: ${knownPhases.join(", ")}; watch, txn, lease run alone or with npm run bench -- api)`,
      );
  return knownPhases.filter((phase) => names.includes(phase));
}

export interface KvOptions {
  readonly seconds?: number;
  readonly warmup?: number;
  readonly quick?: boolean;
  readonly connections: number;
  readonly window: number;
  readonly workers: number;
  readonly keys: number;
  readonly valueBytes: number;
  readonly target: "leader" | "all";
  readonly dataDir: string;
  readonly phases: AnyPhase[];
  readonly etcd: boolean;
  readonly echo: boolean;
  readonly etcdClient: EtcdClientKind;
  readonly stageraftClient: StageraftClientKind;
  readonly requestTimeout: number;
  readonly timeout?: number;
  readonly out: string;
  readonly applyPool: "inline" | "workers";
  readonly raftStepPool: "inline" | "workers";
  readonly failoverRounds: number;
  readonly restartEntries: number;
  readonly floodRequests: number;
  readonly stageraftCli: string;
  readonly stageraftConfig?: Record<string, unknown>;
}

function program(): Command {
  return new Command("bench")
    .description(
      "3-node stageraft on loopback (durable) vs a 3-member etcd and a bare echo server, same workload, one after the other",
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
        `comma list of ${knownPhases.join(", ")} (default: the four load phases; the keys are always loaded first)`,
      )
        .argParser(phaseList)
        .default([...loadPhases], loadPhases.join(",")),
    )
    .option(
      "--stageraft-cli <path>",
      "the stageraft build to run (another checkout's dist/src/cli.js: before/after in one run)",
      cli,
    )
    .option(
      "--stageraft-config <json>",
      'merged into every node\'s config, e.g. \'{"limits":{"admissionLatencyMs":0}}\'',
      (text: string) => JSON.parse(text) as Record<string, unknown>,
    )
    .option("--no-etcd", "skip the etcd comparison")
    .option("--no-echo", "skip the bare echo server (the transport's own rate)")
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
      new Option(
        "--etcd-client <kind>",
        "etcd client: grpc (etcd3, etcd's native API) or its JSON gateway through http (node:http) or fetch",
      )
        .choices(["grpc", "http", "fetch"])
        .default("grpc"),
    )
    .addOption(
      new Option(
        "--stageraft-client <kind>",
        "stageraft client for the load phases: ws (its own WebSocket client) or etcd3 (the etcd client, through --listen-etcd)",
      )
        .choices(["ws", "etcd3"])
        .default("ws"),
    )
    .addOption(
      new Option("--failover-rounds <n>", "failover: leader kills per system")
        .argParser(positiveInt)
        .default(5),
    )
    .addOption(
      new Option(
        "--restart-entries <n>",
        "restart: entries written before the cluster is stopped and started",
      )
        .argParser(positiveInt)
        .default(200_000),
    )
    .addOption(
      new Option("--flood-requests <n>", "flood: puts sent at once")
        .argParser(positiveInt)
        .default(128 * 1024),
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
    );
}

export const raftTiming: RaftTiming = { tickMs: 100, electionTicks: 10, heartbeatTicks: 1 };

/** Everything a run needs: the options and what follows from them. */
export interface KvConfig {
  readonly options: KvOptions;
  readonly loadPhases: Exclude<PhaseOp, "load">[];
  readonly scenarios: ScenarioName[];
  readonly measureSeconds: number;
  readonly warmupSeconds: number;
  readonly workerCount: number;
  readonly drainMs: number;
  readonly stallMs: number;
  readonly loadTimeoutMs: number;
  readonly startTimeoutMs: number;
  readonly globalTimeoutSeconds: number;
  readonly stageraftConfig: Record<string, unknown>;
  /** The settings as written to the JSON. */
  readonly settings: Record<string, unknown> & {
    readonly dataDir: string;
    readonly inFlight: number;
  };
}

/** `over` laid on `base`, objects merged key by key (the --stageraft-config option). */
export function merged(
  base: Record<string, unknown>,
  over: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const under = out[key];
    const bothObjects = [under, value].every(
      (v) => typeof v === "object" && v !== null && !Array.isArray(v),
    );
    out[key] = bothObjects
      ? merged(under as Record<string, unknown>, value as Record<string, unknown>)
      : value;
  }
  return out;
}

export function parseKvOptions(argv: readonly string[]): KvConfig {
  const options = program()
    .parse([...argv])
    .opts<KvOptions>();
  const measureSeconds = options.seconds ?? (options.quick ? 3 : 10);
  const warmupSeconds = options.warmup ?? (options.quick ? 1 : 2);
  const workerCount = Math.min(options.workers, options.connections);
  const drainMs = options.requestTimeout + 1_000;
  const phases = options.phases.filter((phase): phase is (typeof loadPhases)[number] =>
    (loadPhases as readonly string[]).includes(phase),
  );
  const scenarios = options.phases.filter((phase): phase is ScenarioName =>
    (scenarioPhases as readonly string[]).includes(phase),
  );
  const stageraftConfig = merged(
    {
      raft: raftTiming,
      wal: { sync: true },
      engines: { kv: "level" },
      stages: { raftStep: { pool: options.raftStepPool }, apply: { pool: options.applyPool } },
      // info: stageraft logs only rare events at info (role changes, snapshots, shutdowns), and
      // the bench reads them to explain an exit; nothing per request.
      log: { level: "info" },
    },
    options.stageraftConfig ?? {},
  );
  const phaseSeconds = warmupSeconds + measureSeconds + drainMs / 1000 + 2;
  // A scenario: failover rounds of ~10 s, restart's load at >= 1,000 writes/s, a flood's drain.
  const scenarioSeconds =
    (scenarios.includes("failover") ? options.failoverRounds * 20 : 0) +
    (scenarios.includes("restart") ? 60 + options.restartEntries / 1_000 : 0) +
    (scenarios.includes("flood") ? 60 + options.floodRequests / 1_000 : 0);
  return {
    options,
    loadPhases: phases,
    scenarios,
    measureSeconds,
    warmupSeconds,
    workerCount,
    drainMs,
    stallMs: options.requestTimeout + 2_000,
    loadTimeoutMs: 120_000,
    startTimeoutMs: 30_000,
    globalTimeoutSeconds:
      options.timeout ?? 240 + (2 * phases.length + 2) * phaseSeconds + 2 * scenarioSeconds,
    stageraftConfig,
    settings: {
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
      stageraftClient: options.stageraftClient,
      echo: options.echo,
      phases: options.phases,
      failoverRounds: options.failoverRounds,
      restartEntries: options.restartEntries,
      floodRequests: options.floodRequests,
      stageraftConfig,
      stageraftCli: resolve(options.stageraftCli),
      raftTiming: {
        heartbeatMs: raftTiming.tickMs * raftTiming.heartbeatTicks,
        electionTimeoutMs: raftTiming.tickMs * raftTiming.electionTicks,
      },
    },
  };
}
