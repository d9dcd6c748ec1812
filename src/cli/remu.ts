import { type Command, InvalidArgumentError, Option } from "commander";
import { type FaultKind, faultKinds } from "../remu/faults.js";
import type { RunResult } from "../remu/mod.js";
import { withoutGlobalHelp } from "./common.js";

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

/** `remu`: the Raft emulator (docs/remu.md). */
export function registerRemu(program: Command): void {
  withoutGlobalHelp(program.command("remu"))
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
      new Option("--steps <n>", "events in the safety phase")
        .argParser(positiveInt)
        .default(20_000),
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
        const { runEmulation } = await import("../remu/mod.js");
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
}

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
  const { serveRemuPage, writeRemuPage } = await import("../remu/web/mod.js");
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
