#!/usr/bin/env node
import { Command, InvalidArgumentError, Option } from "commander";
import { registerClientCommands } from "./cli-client.js";
import { registerWatchCommand } from "./cli-watch.js";
import { type FaultKind, faultKinds, type RunResult, runEmulation } from "./remu/mod.js";

function positiveInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1)
    throw new InvalidArgumentError("must be a positive integer");
  return parsed;
}

function seedValue(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 0xffff_ffff) {
    throw new InvalidArgumentError("must be an integer in [0, 2^32)");
  }
  return parsed;
}

function faultList(value: string): FaultKind[] {
  if (value === "all") return [...faultKinds];
  if (value === "none" || value === "") return [];
  const names = value.split(",").map((name) => name.trim());
  for (const name of names) {
    if (!(faultKinds as readonly string[]).includes(name)) {
      throw new InvalidArgumentError(
        `unknown fault "${name}" (known: ${faultKinds.join(", ")}, all, none)`,
      );
    }
  }
  return names as FaultKind[];
}

function portValue(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65_535)
    throw new InvalidArgumentError("must be a port number in [0, 65535] (0: any free port)");
  return parsed;
}

/** The port `remu --web` tries first when none is given (a free one if it is taken). */
const defaultWebPort = 7420;

function printResult(result: RunResult, json: boolean): void {
  if (json) {
    const { recording: _recording, ...printed } = result;
    process.stdout.write(`${JSON.stringify(printed)}\n`);
    return;
  }
  const p = result.parameters;
  process.stdout.write(`SEED=${p.seed} nodes=${p.nodes} steps=${p.steps} faults=${p.faults}\n`);
  process.stdout.write(`parameters: ${JSON.stringify(p)}\n`);
  if (!result.ok) {
    process.stdout.write(
      `\ntrace (last ${result.trace.length} events):\n${result.trace.join("\n")}\n\n`,
    );
    process.stdout.write(`FAILED (exit ${result.exitCode}): ${result.failure}\n`);
    process.stdout.write(
      `replay: stageraft remu --nodes ${p.nodes} --seed ${p.seed} --steps ${p.steps} --faults ${p.faults}\n`,
    );
  }
  const s = result.summary;
  process.stdout.write(
    `summary: ${s.virtualMs} virtual ms, ${s.events} events, ${s.elections} elections (max term ${s.maxTerm}), ` +
      `${s.committed} committed, ${s.acked} writes acked, ${s.reads} reads, ${s.snapshots} snapshots ` +
      `(${s.snapshotsInstalled} installed), ${s.crashes} crashes, ${s.invariantChecks} invariant checks, ` +
      `chk@commit=${s.chkAtCommit}\n`,
  );
  if (result.ok)
    process.stdout.write("OK: every invariant held, and the healed cluster made progress\n");
}

const program = new Command("stageraft")
  .description(
    "stageraft: a Raft-replicated key-value and vector store, and remu, its Raft emulator",
  )
  .version("0.1.0");

// Usage errors exit 2 (etcdctl's habit); --help and --version exit 0. Set before the
// subcommands are added: commander copies the setting into each.
program.exitOverride((error) => {
  process.exit(error.exitCode === 0 ? 0 : 2);
});

program
  .command("remu")
  .description(
    "run the Raft emulator: a whole cluster on a virtual clock and network, from one seed",
  )
  .addOption(new Option("--nodes <n>", "cluster size").argParser(positiveInt).default(3))
  .addOption(
    new Option("--seed <n>", "the seed; every choice of the run follows from it")
      .argParser(seedValue)
      .default(1),
  )
  .addOption(
    new Option("--steps <n>", "events in the safety phase").argParser(positiveInt).default(20_000),
  )
  .addOption(
    new Option("--faults <list>", `comma list of ${faultKinds.join(", ")}, or all / none`)
      .argParser(faultList)
      .default([...faultKinds], "all"),
  )
  .addOption(
    new Option("--seeds <n>", "run this many consecutive seeds from --seed")
      .argParser(positiveInt)
      .default(1),
  )
  .option("--verbose", "print every event as it happens")
  .option("--json", "print results as JSON lines")
  .option(
    "--out <dir>",
    "write the run's web view to DIR (index.html, self-contained; run.json); with --seeds, the first failing seed's (else --seed's)",
  )
  .addOption(
    new Option(
      "--web [port]",
      `serve the run's web view on 127.0.0.1 (port ${defaultWebPort} by default, 0: any free port); Ctrl-C stops`,
    ).argParser(portValue),
  )
  .addOption(
    new Option("--record-steps <n>", "steps the web view keeps (the last ones)")
      .argParser(positiveInt)
      .default(50_000),
  )
  .action(
    async (options: {
      nodes: number;
      seed: number;
      steps: number;
      faults: FaultKind[];
      seeds: number;
      verbose?: boolean;
      json?: boolean;
      out?: string;
      web?: number | true;
      recordSteps: number;
    }) => {
      const view = options.out !== undefined || options.web !== undefined;
      const record = view ? { capacity: options.recordSteps } : undefined;
      let failed = 0;
      let worst = 0;
      let shown: RunResult | null = null;
      let firstFailedSeed: number | null = null;
      for (let k = 0; k < options.seeds; k++) {
        const seed = (options.seed + k) >>> 0;
        const result = runEmulation({
          nodes: options.nodes,
          seed,
          steps: options.steps,
          faults: options.faults,
          verbose: options.verbose ?? false,
          // A sweep records nothing: the seed shown is replayed with the recorder below.
          ...(record && options.seeds === 1 ? { record } : {}),
        });
        if (options.seeds === 1) shown = result;
        if (options.seeds === 1 || !result.ok) printResult(result, options.json ?? false);
        if (!result.ok) {
          failed++;
          worst = Math.max(worst, result.exitCode);
          firstFailedSeed ??= seed;
        }
      }
      if (options.seeds > 1)
        process.stdout.write(`${options.seeds - failed} passed, ${failed} failed\n`);
      process.exitCode = worst;
      if (!view) return;
      if (shown === null) {
        // The same seed replays the same run: record the first failure (or the first seed).
        shown = runEmulation({
          nodes: options.nodes,
          seed: firstFailedSeed ?? options.seed,
          steps: options.steps,
          faults: options.faults,
          ...(record ? { record } : {}),
        });
      }
      await showWebView(shown, options.out, options.web, options.json ?? false);
    },
  );

/** remu --out / --web: write and/or serve the web view of a recorded run. */
async function showWebView(
  result: RunResult,
  out: string | undefined,
  web: number | true | undefined,
  json: boolean,
): Promise<void> {
  const recording = result.recording;
  if (recording === undefined) return;
  // Keep stdout JSON lines only under --json.
  const say = (line: string) => (json ? process.stderr : process.stdout).write(`${line}\n`);
  const { serveRemuPage, writeRemuPage } = await import("./remu/web/mod.js");
  const seed = String(result.parameters.seed);
  if (out !== undefined) {
    const paths = writeRemuPage(out, recording);
    say(`web view of seed ${seed}: ${paths.html} (data: ${paths.json})`);
  }
  if (web === undefined) return;
  let served: Awaited<ReturnType<typeof serveRemuPage>>;
  try {
    served = await serveRemuPage(recording, web === true ? defaultWebPort : web);
  } catch (error) {
    if (web !== true || (error as NodeJS.ErrnoException).code !== "EADDRINUSE") throw error;
    served = await serveRemuPage(recording, 0);
  }
  say(`web view of seed ${seed}: ${served.url}  (Ctrl-C stops)`);
  const stop = () => {
    void served.close().then(() => process.exit());
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

program
  .command("serve")
  .description("run one node (flags as etcd's; --config sets the same keys, flags win)")
  .option("--name <name>", "this node's name, as listed in --initial-cluster")
  .option("--data-dir <dir>", "where the WAL, snapshots and engine data live")
  .option("--listen-client <host:port>", "WebSocket /v1, /health, /metrics and /dashboard")
  .option("--listen-peer <host:port>", "Raft traffic from the other nodes")
  .option("--initial-cluster <list>", "name=host:port,… every member's peer address")
  .addOption(
    new Option(
      "--initial-cluster-state <state>",
      "new: bootstrap; existing: join a running cluster",
    ).choices(["new", "existing"]),
  )
  .option("--config <file>", "a JSON config file (see docs/configuration.md)")
  .action(async (options: Record<string, string | undefined>) => {
    const { loadConfig, ConfigError } = await import("./config.js");
    const { StageraftNode, StartupError } = await import("./node.js");
    let node: Awaited<ReturnType<typeof StageraftNode.start>>;
    try {
      const config = loadConfig(
        {
          name: options.name,
          dataDir: options.dataDir,
          listenClient: options.listenClient,
          listenPeer: options.listenPeer,
          initialCluster: options.initialCluster,
          initialClusterState: options.initialClusterState,
        },
        options.config,
      );
      node = await StageraftNode.start(config);
    } catch (error) {
      if (error instanceof ConfigError || error instanceof StartupError) {
        process.stderr.write(`stageraft serve: ${error.message}\n`);
        process.exit(1);
      }
      throw error;
    }
    // Exit 0 once every step of the stop finished; 1 when one overran the deadline or failed
    // (logged with what it was waiting for), which is as safe as kill -9.
    const shutdown = (signal: string) => {
      node.log.info({ signal }, "shutting down");
      void node.stop().then((outcome) => process.exit(outcome === "clean" ? 0 : 1));
    };
    process.once("SIGTERM", () => shutdown("SIGTERM"));
    process.once("SIGINT", () => shutdown("SIGINT"));
    // A removed member must not serve (etcd does the same): stop cleanly and exit 0, so that a
    // supervisor restarting on failure leaves it stopped.
    void node.removed.then((reason) => {
      node.log.warn({ reason }, "removed from the cluster: stopping, exit code 0");
      shutdown("removed");
    });
  });

registerClientCommands(program);
registerWatchCommand(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`stageraft: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
