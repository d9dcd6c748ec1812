/**
 * The KV bench's results: what a system's run holds, the line printed as each phase ends, the
 * tables at the end (one per system, then side by side with etcd and the echo server), and the
 * JSON written to results/latest.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fairness, transportNote } from "./kv-notes.js";
import type { KvConfig } from "./kv-options.js";
import type { PhaseOp } from "./load.js";
import type { PhaseReport } from "./phase-figures.js";
import type { LeaderInfo, SystemName } from "./processes.js";
import type { MachineInfo } from "./report.js";
import { integer, ms, table } from "./report.js";
import { type ScenarioReport, scenarioLine } from "./scenarios.js";

export interface NodeReport {
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

export interface SystemReport {
  readonly system: SystemName;
  version: string;
  readonly transport: string;
  status: "complete" | "skipped" | "failed" | "partial";
  reason?: string;
  startupSeconds?: number;
  leader?: LeaderInfo | null;
  endpoints?: string[];
  phases: PhaseReport[];
  scenarios: ScenarioReport[];
  nodes: NodeReport[];
  leaderState?: unknown;
}

export interface BenchState {
  readonly startedAt: Date;
  machine: MachineInfo | null;
  readonly systems: Partial<Record<SystemName, SystemReport>>;
  readonly problems: string[];
  finished: boolean;
}

export const out = (line = "") => process.stdout.write(`${line}\n`);

/** Other processes took more than a quarter of a core during the phase: its figures are noisy. */
const noiseLimitPercent = 25;
const noisy = (phase: PhaseReport | undefined) =>
  (phase?.otherProcessesCpuPercent ?? 0) > noiseLimitPercent;

const perNode = (values: Record<string, number | null>, digits: number) =>
  Object.entries(values)
    .map(([name, value]) => `${name} ${value === null ? "?" : value.toFixed(digits)}`)
    .join(" ");

export function cpuText(phase: PhaseReport): string {
  const servers = Object.entries(phase.serverCpuPercent)
    .map(([name, percent]) => `${name} ${percent === null ? "?" : `${percent}%`}`)
    .join(" ");
  const self = phase.loadGeneratorCpuPercent === null ? "?" : `${phase.loadGeneratorCpuPercent}%`;
  const others =
    phase.otherProcessesCpuPercent === null ? "" : `, others ${phase.otherProcessesCpuPercent}%`;
  return `${servers}, bench ${self}${others}`;
}

function windowText(phase: PhaseReport): string {
  const w = phase.windows;
  return w === null ? "-" : `${Math.round(w.minFraction * 100)}% (${w.below80Percent} < 80%)`;
}

function electionText(phase: PhaseReport): string {
  const e = phase.elections;
  return e === null ? "-" : `${e.termsStarted} / ${e.leaderChanges}`;
}

export function phaseLine(system: SystemName, phase: PhaseReport): string {
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
  const cpu1k = phase.cpuSecondsPer1000Ops === null ? "?" : phase.cpuSecondsPer1000Ops.toFixed(3);
  return `${head} ${integer.format(phase.opsPerSecond).padStart(8)} ops/s  p50 ${ms(phase.latencyMs?.p50).padStart(8)}  p99 ${ms(phase.latencyMs?.p99).padStart(8)}  errors ${errors}  [CPU ${cpuText(phase)}; ${cpu1k} CPU s/1k ops; RSS MiB ${perNode(phase.rssMaxMiB, 0)}; worst 1 s ${windowText(phase)}; terms/leader changes ${electionText(phase)}]${leaderNote}${abortedText}`;
}

function systemTable(report: SystemReport): string {
  const rows = report.phases
    .filter((phase) => phase.op !== "load")
    .map((phase) => [
      phase.label,
      `${integer.format(phase.opsPerSecond)}${noisy(phase) ? "*" : ""}`,
      ms(phase.latencyMs?.p50),
      ms(phase.latencyMs?.p99),
      ms(phase.latencyMs?.max),
      String(phase.errorCount),
      phase.cpuSecondsPer1000Ops === null ? "-" : phase.cpuSecondsPer1000Ops.toFixed(3),
      perNode(phase.serverCpuSeconds, 2),
      perNode(phase.rssMaxMiB, 0),
      windowText(phase),
      electionText(phase),
      phase.aborted === null ? "ok" : "ABORTED",
    ]);
  return table(
    [
      "phase",
      "ops/s",
      "p50",
      "p99",
      "max",
      "errors",
      "CPU s/1k ops",
      "CPU s per node",
      "RSS MiB (max)",
      "worst 1 s",
      "terms/leaders",
      "run",
    ],
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
  /** put only: the echo server's frames/s, and stageraft's put rate as a fraction of it. */
  readonly echo?: ComparedPhase | null;
  readonly echoRatio?: number | null;
  readonly note?: string;
}

function pick(report: SystemReport | undefined, op: PhaseOp): ComparedPhase | null {
  const phase = report?.phases.find((candidate) => candidate.op === op);
  if (phase === undefined || phase.aborted !== null) return null;
  return {
    noisy: noisy(phase),
    opsPerSecond: Math.round(phase.opsPerSecond),
    p50Ms: phase.latencyMs?.p50 ?? null,
    p99Ms: phase.latencyMs?.p99 ?? null,
  };
}

const ratio = (a: ComparedPhase | null, b: ComparedPhase | null | undefined) =>
  a !== null && b != null && b.opsPerSecond > 0 ? a.opsPerSecond / b.opsPerSecond : null;

export function comparison(state: BenchState): ComparisonRow[] {
  return (["put", "get-linearizable", "get-lease", "get-stale"] as const).map((op) => {
    const a = pick(state.systems.stageraft, op);
    const b = pick(state.systems.etcd, op);
    const echo = op === "put" ? { echo: pick(state.systems.echo, op) } : {};
    return {
      phase: op,
      stageraft: a,
      etcd: b,
      throughputRatio: ratio(a, b),
      ...echo,
      ...(op === "put" ? { echoRatio: ratio(a, echo.echo) } : {}),
      ...(op === "get-lease" ? { note: "etcd has no lease reads" } : {}),
    };
  });
}

const opsText = (phase: ComparedPhase | null | undefined, none = "-") =>
  phase == null ? none : `${integer.format(phase.opsPerSecond)}${phase.noisy ? "*" : ""}`;
const ratioText = (value: number | null | undefined) =>
  value == null ? "-" : `${value.toFixed(2)}x`;

function printComparison(config: KvConfig, state: BenchState): void {
  const etcd = state.systems.etcd;
  out(`side by side: stageraft, etcd ${etcd?.version ?? "(skipped)"}, the bare echo server`);
  for (const line of transportNote(config)) out(line);
  out("Fair in the rest:");
  for (const line of fairness(config)) out(`  - ${line}`);
  const rows = comparison(state).map((row) => [
    `${row.phase}`,
    opsText(row.stageraft),
    opsText(row.etcd, row.note ?? "-"),
    ratioText(row.throughputRatio),
    opsText(row.echo),
    ratioText(row.echoRatio),
    row.stageraft === null ? "-" : `${ms(row.stageraft.p50Ms)} / ${ms(row.stageraft.p99Ms)}`,
    row.etcd === null ? "-" : `${ms(row.etcd.p50Ms)} / ${ms(row.etcd.p99Ms)}`,
  ]);
  const header = ["phase", "stageraft ops/s", "etcd ops/s", "stageraft/etcd", "echo ops/s"];
  out(table([...header, "stageraft/echo", "stageraft p50 / p99", "etcd p50 / p99"], rows));
  out("  (etcd: 'get-linearizable' is a default range, 'get-stale' a serializable range)");
  if (comparison(state).some((row) => row.stageraft?.noisy || row.etcd?.noisy))
    out(
      `  * other processes used more than ${noiseLimitPercent}% of a core during that phase: the figure, and its ratio, are noisy`,
    );
  out();
}

function printSystem(report: SystemReport): void {
  out(`${report.system} ${report.version} — ${report.transport}`);
  if (report.phases.some((phase) => phase.op !== "load")) out(systemTable(report));
  if (report.phases.some((phase) => phase.op !== "load" && noisy(phase)))
    out(
      `  * other processes on the machine used more than ${noiseLimitPercent}% of a core during this phase ('others'): the figure is noisy`,
    );
  out(
    "  (worst 1 s: the slowest whole second as a percent of the phase's mean, and how many seconds fell below 80% of it; terms/leaders: terms started / leader changes seen during the phase)",
  );
  const load = report.phases.find((phase) => phase.op === "load");
  if (load !== undefined)
    out(
      `  (load: ${integer.format(load.ok)} keys in ${load.measuredSeconds.toFixed(1)} s = ${integer.format(load.opsPerSecond)} writes/s, not counted above)`,
    );
  for (const scenario of report.scenarios) out(scenarioLine(report.system, scenario));
  if (report.status !== "complete") out(`  status: ${report.status}: ${report.reason ?? ""}`);
  for (const node of report.nodes.filter((n) => n.warnLines + n.errorLines > 0)) {
    const top = Object.entries(node.messages)
      .slice(0, 3)
      .map(([message, count]) => `${count}x ${message}`)
      .join("; ");
    out(`  ${node.name} logged ${node.warnLines} warn and ${node.errorLines} error lines: ${top}`);
  }
  out();
}

export function printFinal(config: KvConfig, state: BenchState, status: string): void {
  out();
  for (const system of ["stageraft", "etcd", "echo"] as const) {
    const report = state.systems[system];
    if (report !== undefined && report.status !== "skipped") printSystem(report);
  }
  const etcd = state.systems.etcd;
  const compared = etcd?.status !== "skipped" || state.systems.echo?.status !== "skipped";
  if (state.systems.stageraft !== undefined && compared) printComparison(config, state);
  if (etcd?.status === "skipped") out(`etcd comparison: skipped (${etcd.reason})\n`);
  if (state.problems.length > 0) {
    out("PROBLEMS:");
    for (const problem of state.problems) out(`  - ${problem}`);
    out();
  }
  const path = writeResults(config, state, status);
  out(`status: ${status}; results written to ${path ?? "(could not write the JSON)"}`);
}

function writeResults(config: KvConfig, state: BenchState, status: string): string | null {
  const finishedAt = new Date();
  const document = {
    schema: "stageraft-bench/2",
    status,
    startedAt: state.startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationSeconds: Math.round((finishedAt.getTime() - state.startedAt.getTime()) / 100) / 10,
    command: process.argv.slice(2),
    machine: state.machine,
    settings: config.settings,
    fairness: fairness(config),
    transportNote: transportNote(config).join(" "),
    systems: state.systems,
    comparison: comparison(state),
    problems: state.problems,
  };
  try {
    const path = resolve(config.options.out);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${JSON.stringify(document, null, 2)}\n`);
    return path;
  } catch (error) {
    process.stderr.write(
      `bench: cannot write ${config.options.out}: ${(error as Error).message}\n`,
    );
    return null;
  }
}
