/**
 * npm run fuzz -- --seeds N [--start S] [--nodes 3,5] [--steps K] [--faults all]
 * npm run fuzz -- --mode node --seeds N [--start S] [--nodes 3,5] [--ms M]
 * A longer randomised remu sweep than the test suite's. Prints every failing seed with its
 * trace and exits with the worst failure class (see src/remu/run.ts ExitCode).
 */
import { Command, Option } from "commander";
import {
  type FaultKind,
  faultKinds,
  nodeFaultKinds,
  type RunResult,
  runEmulation,
  runNodeEmulation,
} from "../src/remu/mod.js";

const program = new Command("fuzz")
  .addOption(new Option("--seeds <n>", "seeds per cluster size").argParser(Number).default(1000))
  .addOption(new Option("--start <n>", "first seed").argParser(Number).default(1))
  .addOption(new Option("--nodes <list>", "cluster sizes").default("3,5"))
  .addOption(new Option("--steps <n>", "events per run").argParser(Number).default(20_000))
  .addOption(new Option("--faults <list>", "faults (all or a comma list)").default("all"))
  .addOption(
    new Option("--mode <mode>", "core: the Raft cores; node: the production stages")
      .choices(["core", "node"])
      .default("core"),
  )
  .addOption(
    new Option("--ms <n>", "node mode: virtual ms per run").argParser(Number).default(3000),
  )
  .parse(process.argv);

const options = program.opts<{
  seeds: number;
  start: number;
  nodes: string;
  steps: number;
  faults: string;
  mode: "core" | "node";
  ms: number;
}>();
const faults =
  options.faults === "all" ? [...faultKinds] : (options.faults.split(",") as FaultKind[]);
const nodeFaults =
  options.faults === "all"
    ? [...nodeFaultKinds]
    : nodeFaultKinds.filter((kind) => options.faults.split(",").includes(kind));
const sizes = options.nodes.split(",").map(Number);
const started = performance.now();
let passed = 0;
let failed = 0;
let worst = 0;
for (const nodes of sizes) {
  for (let seed = options.start; seed < options.start + options.seeds; seed++) {
    const result: RunResult =
      options.mode === "node"
        ? await runNodeEmulation({
            nodes,
            seed,
            durationMs: options.ms,
            faults: nodeFaults,
          })
        : runEmulation({ nodes, seed, steps: options.steps, faults });
    if (result.ok) {
      passed++;
      continue;
    }
    failed++;
    worst = Math.max(worst, result.exitCode);
    process.stdout.write(
      `\nSEED=${seed} nodes=${nodes} FAILED (exit ${result.exitCode}): ${result.failure}\n`,
    );
    process.stdout.write(`${result.trace.slice(-80).join("\n")}\n`);
  }
}
const seconds = (performance.now() - started) / 1000;
process.stdout.write(
  `fuzz: sizes ${sizes.join(",")}, ${options.seeds} seeds each, ${options.steps} events, ${seconds.toFixed(1)} s\n`,
);
process.stdout.write(`${passed} passed, ${failed} failed\n`);
process.exitCode = worst;
