/**
 * npm run bench -- pools [--combos raftStep/apply,…] [--rounds N] [bench options…]
 *
 * The KV bench once per stage-pool choice (raft-step and apply: inline or workers), one after
 * the other in one run, on fresh clusters, then the figures side by side: the measurement the
 * defaults are chosen by. Every other option goes to each bench run unchanged (--quick,
 * --seconds, --connections …); etcd and the echo server are skipped. With --rounds N the
 * combinations run N times, interleaved (so that drift on the machine touches all of them): the
 * table shows the mean
 * throughput, every round's figure, and the latency of the median round.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describeMachine, integer, machineInfo, ms, table } from "./report.js";

type PoolKind = "inline" | "workers";

interface Combo {
  readonly raftStep: PoolKind;
  readonly apply: PoolKind;
}

interface PhaseFigures {
  readonly op: string;
  readonly opsPerSecond: number;
  readonly p50: number | null;
  readonly p99: number | null;
  readonly errors: number;
  readonly serverCpuPercent: Record<string, number | null>;
}

const phases = ["put", "get-linearizable", "get-lease", "get-stale"] as const;
const here = dirname(fileURLToPath(import.meta.url));
const resultsDir = join(here, "..", "..", "..", "ops", "bench", "results");

function usage(message: string): number {
  process.stderr.write(
    `bench pools: ${message}\nusage: npm run bench -- pools [--combos inline/inline,workers/inline,…] [--rounds N] [bench options]\n`,
  );
  return 2;
}

function parseCombos(text: string): Combo[] | string {
  const combos: Combo[] = [];
  for (const part of text.split(",")) {
    const [raftStep, apply, extra] = part.split("/");
    const valid = (kind: string | undefined): kind is PoolKind =>
      kind === "inline" || kind === "workers";
    if (!valid(raftStep) || !valid(apply) || extra !== undefined)
      return `"${part}" is not raftStep/apply with each inline or workers`;
    combos.push({ raftStep, apply });
  }
  return combos;
}

const label = (combo: Combo) => `raft-step ${combo.raftStep}, apply ${combo.apply}`;
const slug = (combo: Combo) => `${combo.raftStep}-${combo.apply}`;

function runOnce(combo: Combo, passThrough: readonly string[], out: string): Promise<number> {
  const args = [
    process.argv[1]!,
    ...passThrough,
    "--no-etcd",
    "--no-echo",
    "--raft-step-pool",
    combo.raftStep,
    "--apply-pool",
    combo.apply,
    "--out",
    out,
  ];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "inherit", "inherit"] });
    child.on("exit", (code) => resolve(code ?? 1));
  });
}

function readFigures(path: string): PhaseFigures[] {
  const document = JSON.parse(readFileSync(path, "utf8")) as {
    systems: {
      stageraft?: {
        phases: {
          op: string;
          opsPerSecond: number;
          errorCount: number;
          aborted: string | null;
          latencyMs: { p50: number; p99: number } | null;
          serverCpuPercent: Record<string, number | null>;
        }[];
      };
    };
  };
  return (document.systems.stageraft?.phases ?? [])
    .filter((phase) => phase.aborted === null)
    .map((phase) => ({
      op: phase.op,
      opsPerSecond: phase.opsPerSecond,
      p50: phase.latencyMs?.p50 ?? null,
      p99: phase.latencyMs?.p99 ?? null,
      errors: phase.errorCount,
      serverCpuPercent: phase.serverCpuPercent,
    }));
}

function meanOps(runs: readonly PhaseFigures[]): number | null {
  if (runs.length === 0) return null;
  return runs.reduce((sum, run) => sum + run.opsPerSecond, 0) / runs.length;
}

/** The run whose throughput is the median of the rounds (the lower middle for an even count). */
function median(runs: readonly PhaseFigures[]): PhaseFigures | null {
  if (runs.length === 0) return null;
  const sorted = [...runs].sort((a, b) => a.opsPerSecond - b.opsPerSecond);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

export async function runPoolsBench(argv: readonly string[]): Promise<number> {
  let combos = parseCombos(
    "inline/inline,workers/inline,inline/workers,workers/workers",
  ) as Combo[];
  let rounds = 1;
  const passThrough: string[] = [];
  for (let k = 0; k < argv.length; k++) {
    const arg = argv[k]!;
    if (arg === "--combos") {
      const parsed = parseCombos(argv[++k] ?? "");
      if (typeof parsed === "string") return usage(parsed);
      combos = parsed;
    } else if (arg === "--rounds") {
      rounds = Number(argv[++k]);
      if (!Number.isSafeInteger(rounds) || rounds < 1) return usage("--rounds wants a count >= 1");
    } else if (arg === "--out" || arg === "--raft-step-pool" || arg === "--apply-pool") {
      return usage(`${arg} is set per combination by the pools bench`);
    } else if (arg === "--no-etcd") {
      // Always: the comparison here is between stageraft's own pools.
    } else passThrough.push(arg);
  }
  mkdirSync(resultsDir, { recursive: true });
  const runsDir = mkdtempSync(join(tmpdir(), "stageraft-pools-"));
  const figures = new Map<string, PhaseFigures[][]>(combos.map((c) => [slug(c), []]));
  let failures = 0;
  for (let round = 1; round <= rounds; round++) {
    for (const combo of combos) {
      process.stdout.write(`\n=== pools: ${label(combo)} (round ${round} of ${rounds})\n`);
      const out = join(runsDir, `${slug(combo)}-${round}.json`);
      const code = await runOnce(combo, passThrough, out);
      if (code !== 0) failures++;
      try {
        figures.get(slug(combo))!.push(readFigures(out));
      } catch (error) {
        process.stderr.write(`bench pools: no results for ${label(combo)}: ${error}\n`);
        failures++;
      }
    }
  }

  const machine = machineInfo(resultsDir);
  process.stdout.write(
    `\nstage pools side by side (${rounds > 1 ? `${rounds} rounds each: mean ops/s, latency of the median round` : "one run each"})\n`,
  );
  for (const line of describeMachine(machine)) process.stdout.write(`${line}\n`);
  const baseline = combos[0]!;
  const summary: Record<string, Record<string, unknown>> = {};
  const rows: string[][] = [];
  const phaseRuns = (combo: Combo, op: string) =>
    figures.get(slug(combo))!.flatMap((run) => run.filter((phase) => phase.op === op));
  for (const combo of combos) {
    summary[slug(combo)] = {};
    for (const op of phases) {
      const runs = phaseRuns(combo, op);
      const picked = median(runs);
      const mean = meanOps(runs);
      const base = meanOps(phaseRuns(baseline, op));
      summary[slug(combo)]![op] = {
        meanOpsPerSecond: mean,
        rounds: runs.map((run) => run.opsPerSecond),
        medianRound: picked,
      };
      const ratio =
        mean !== null && base !== null && base > 0 ? `${(mean / base).toFixed(2)}x` : "-";
      const cpu =
        picked === null
          ? "-"
          : Object.values(picked.serverCpuPercent)
              .map((p) => (p === null ? "?" : `${p}%`))
              .join(" ");
      rows.push([
        label(combo),
        op,
        mean === null ? "-" : integer.format(mean),
        runs.map((run) => integer.format(run.opsPerSecond)).join(" / "),
        ratio,
        ms(picked?.p50),
        ms(picked?.p99),
        picked === null ? "-" : String(picked.errors),
        cpu,
      ]);
    }
  }
  process.stdout.write(
    `${table(
      [
        "pools",
        "phase",
        "ops/s",
        "each round",
        `vs ${slug(baseline)}`,
        "p50",
        "p99",
        "errors",
        "server CPU",
      ],
      rows,
    )}\n`,
  );
  writeFileSync(
    join(resultsDir, "pools-latest.json"),
    `${JSON.stringify({ schema: "stageraft-bench-pools/1", machine, rounds, combos, summary }, null, 2)}\n`,
  );
  process.stdout.write(
    `results: ${join(resultsDir, "pools-latest.json")} (each run's own report: ${runsDir})\n`,
  );
  return failures === 0 ? 0 : 1;
}
