/**
 * What a phase reports (PhaseReport) and how its figures are made: the load generators'
 * results merged (latency histogram, errors, 1-second windows) and the processes' CPU, read
 * from /proc at the start and the end of the measured window.
 */
import hdr from "hdr-histogram-js";
import type { ElectionCount } from "./elections.js";
import type { PhaseOp, PhaseResult } from "./load.js";
import { cpuSeconds, machineBusySeconds } from "./proc-stats.js";
import type { BenchCluster, LeaderInfo } from "./processes.js";
import { mergeWindows, type WindowStats, windowStats } from "./windows.js";

export interface Latency {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

export interface PhaseReport {
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
  /** CPU seconds (user + system) per server process over the measured window. */
  readonly serverCpuSeconds: Record<string, number | null>;
  /** All server processes' CPU seconds together per 1,000 successful requests. */
  readonly cpuSecondsPer1000Ops: number | null;
  /** The most each server process was resident during the phase (VmRSS sampled), MiB. */
  readonly rssMaxMiB: Record<string, number | null>;
  /** Successful requests per whole second of the measured window, and the worst second. */
  readonly windows: WindowStats | null;
  /** Terms started and leader changes seen from the warm-up to the end of the phase. */
  readonly elections: ElectionCount | null;
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

export interface CpuSnapshot {
  readonly at: number;
  readonly servers: (number | null)[];
  readonly machine: number | null;
  readonly self: NodeJS.CpuUsage;
}

export function snapshot(cluster: BenchCluster): CpuSnapshot {
  return {
    at: performance.now(),
    servers: cluster.nodes.map((node) => cpuSeconds(node.pid)),
    machine: machineBusySeconds(),
    self: process.cpuUsage(),
  };
}

export interface MergedResults {
  readonly ok: number;
  readonly errors: Record<string, number>;
  readonly errorCount: number;
  readonly errorSamples: string[];
  readonly unfinished: number;
  readonly measuredMs: number;
  readonly aborted: string | null;
  readonly latencyMs: Latency | null;
  readonly windows: WindowStats | null;
}

/** Every load generator's result of one phase, as one. */
export function mergeResults(results: readonly PhaseResult[]): MergedResults {
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
  let aborted: string | null = null;
  for (const result of results) {
    ok += result.ok;
    unfinished += result.unfinished;
    measuredMs = Math.max(measuredMs, result.measuredMs);
    for (const [code, count] of Object.entries(result.errors))
      errors[code] = (errors[code] ?? 0) + count;
    for (const sample of result.errorSamples)
      if (errorSamples.length < 5) errorSamples.push(sample);
    aborted ??= result.aborted;
    if (result.histogram !== "") {
      const part = hdr.decodeFromCompressedBase64(result.histogram);
      merged.add(part);
      part.destroy();
    }
  }
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
  return {
    ok,
    errors,
    errorCount: Object.values(errors).reduce((sum, count) => sum + count, 0),
    errorSamples,
    unfinished,
    measuredMs,
    aborted,
    latencyMs,
    windows: windowStats(mergeWindows(results.map((result) => result.windows))),
  };
}

export interface CpuFigures {
  readonly serverCpuPercent: Record<string, number | null>;
  readonly serverCpuSeconds: Record<string, number | null>;
  readonly cpuSecondsPer1000Ops: number | null;
  readonly loadGeneratorCpuPercent: number | null;
  readonly otherProcessesCpuPercent: number | null;
}

const round3 = (value: number) => Math.round(value * 1000) / 1000;

/** CPU of the servers, of the bench and of everything else between two snapshots. */
export function cpuFigures(
  names: readonly string[],
  start: CpuSnapshot | null,
  end: CpuSnapshot | null,
  ok: number,
): CpuFigures {
  const figures: CpuFigures = {
    serverCpuPercent: {},
    serverCpuSeconds: {},
    cpuSecondsPer1000Ops: null,
    loadGeneratorCpuPercent: null,
    otherProcessesCpuPercent: null,
  };
  if (start === null || end === null || end.at <= start.at) return figures;
  const wallSeconds = (end.at - start.at) / 1000;
  let total = 0;
  let complete = true;
  names.forEach((name, k) => {
    const before = start.servers[k];
    const after = end.servers[k];
    const used = before == null || after == null ? null : after - before;
    figures.serverCpuSeconds[name] = used === null ? null : round3(used);
    figures.serverCpuPercent[name] = used === null ? null : Math.round((used / wallSeconds) * 100);
    if (used === null) complete = false;
    else total += used;
  });
  const selfSeconds = (end.self.user - start.self.user + end.self.system - start.self.system) / 1e6;
  const self = Math.round((selfSeconds / wallSeconds) * 100);
  let others: number | null = null;
  if (start.machine !== null && end.machine !== null) {
    const machinePercent = ((end.machine - start.machine) / wallSeconds) * 100;
    others = Math.max(0, Math.round(machinePercent - (total / wallSeconds) * 100 - self));
  }
  return {
    ...figures,
    cpuSecondsPer1000Ops: complete && ok > 0 ? round3((total / ok) * 1000) : null,
    loadGeneratorCpuPercent: self,
    otherProcessesCpuPercent: others,
  };
}
