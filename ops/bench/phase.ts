/**
 * One closed-loop phase on one cluster: the load-generator threads run it (load.ts); the bench
 * watches it (a stall, an error spike, a node's exit end it early), samples the servers' CPU,
 * memory and terms meanwhile, and merges the threads' results into a PhaseReport.
 */
import { ElectionWatcher } from "./elections.js";
import type { KvConfig } from "./kv-options.js";
import type { PhaseOp, PhaseResult } from "./load.js";
import type { LoadWorker } from "./load-worker.js";
import {
  type CpuSnapshot,
  cpuFigures,
  mergeResults,
  type PhaseReport,
  snapshot,
} from "./phase-figures.js";
import { RssSampler } from "./proc-stats.js";
import type { BenchCluster } from "./processes.js";

/** Ends the phase early when no request completes for `stallMs`, or most requests fail. */
function watchdog(
  workers: readonly LoadWorker[],
  startAt: number,
  stallMs: number,
  abort: (reason: string) => void,
): NodeJS.Timeout {
  const history: { at: number; done: number; errors: number }[] = [];
  return setInterval(() => {
    const now = Date.now();
    if (now < startAt) return;
    let done = 0;
    let errors = 0;
    let inflight = 0;
    for (const worker of workers) {
      done += worker.done;
      errors += worker.errors;
      inflight += worker.inflight;
    }
    history.push({ at: now, done, errors });
    const stallRef = history.find((entry) => entry.at >= now - stallMs - 250);
    if (stallRef !== undefined && now - stallRef.at >= stallMs - 250 && stallRef.done === done)
      abort(`stalled: no request completed for ${stallMs / 1000} s (${inflight} in flight)`);
    const spikeRef = history.find((entry) => entry.at >= now - 3_250);
    if (spikeRef !== undefined && now - spikeRef.at >= 2_750) {
      const failed = errors - spikeRef.errors;
      const completed = done - spikeRef.done;
      if (failed >= 50 && failed > completed / 2)
        abort(`error spike: ${failed} of ${completed} requests failed within 3 s`);
    }
    if (history.length > 200) history.splice(0, history.length - 200);
  }, 500);
}

/** What the bench reads of the servers during a phase: CPU, resident memory, terms. */
class ServerSampler {
  private cpuStart: CpuSnapshot | null = null;
  private cpuEnd: CpuSnapshot | null = null;
  private rss: RssSampler | null = null;
  private readonly elections: ElectionWatcher | null;

  constructor(
    private readonly cluster: BenchCluster,
    countElections: boolean,
  ) {
    this.elections = countElections ? new ElectionWatcher(cluster) : null;
  }

  measureStart(): void {
    this.cpuStart = snapshot(this.cluster);
    this.rss = new RssSampler(() => this.cluster.nodes.map((node) => node.pid));
  }

  measureEnd(): void {
    this.cpuEnd = snapshot(this.cluster);
  }

  /** The figures; the measured window ends now if measureEnd was not called (the load step). */
  async stop(ok: number) {
    this.cpuEnd ??= snapshot(this.cluster);
    const names = this.cluster.nodes.map((node) => node.name);
    const rssMax = this.rss?.stop() ?? names.map(() => null);
    return {
      ...cpuFigures(names, this.cpuStart, this.cpuEnd, ok),
      rssMaxMiB: Object.fromEntries(names.map((name, k) => [name, rssMax[k] ?? null])),
      elections: this.elections === null ? null : await this.elections.stop(),
    };
  }
}

/** Runs `work` at epoch ms `at` (or at once when past); returns the timer. */
function at(epochMs: number, work: () => void): NodeJS.Timeout {
  return setTimeout(work, Math.max(0, epochMs - Date.now()));
}

export async function runPhase(
  config: KvConfig,
  cluster: BenchCluster,
  workers: LoadWorker[],
  op: PhaseOp,
  label: string,
): Promise<PhaseReport> {
  const leaderBefore = await cluster.leader();
  const isLoad = op === "load";
  const warmupMs = isLoad ? 0 : config.warmupSeconds * 1000;
  const measureMs = isLoad ? 0 : config.measureSeconds * 1000;
  const startAt = Date.now() + 200;
  let aborted: string | null = null;
  const abort = (reason: string) => {
    if (aborted !== null) return;
    aborted = reason;
    for (const worker of workers) worker.send({ type: "abort", reason });
  };
  const unsubscribe = cluster.nodes.map((node) =>
    node.onExit((description) =>
      abort(`${cluster.system} node ${node.name} exited (${description})`),
    ),
  );

  const sampler = new ServerSampler(cluster, !isLoad);
  const timers = [at(startAt + warmupMs, () => sampler.measureStart())];
  if (!isLoad) timers.push(at(startAt + warmupMs + measureMs, () => sampler.measureEnd()));
  const guard = watchdog(workers, startAt, config.stallMs, abort);
  const hardLimitMs = isLoad ? config.loadTimeoutMs : warmupMs + measureMs + config.drainMs + 2_000;
  timers.push(
    at(startAt + hardLimitMs, () =>
      abort(`did not finish within ${Math.round(hardLimitMs / 1000)} s`),
    ),
  );

  for (const worker of workers) {
    worker.resetCounters();
    worker.send({ type: "phase", op, startAt, warmupMs, measureMs, drainMs: config.drainMs });
  }
  const waitMs = startAt - Date.now() + hardLimitMs + config.drainMs + 5_000;
  const replies = await Promise.all(workers.map((worker) => worker.next(waitMs)));
  clearInterval(guard);
  for (const timer of timers) clearTimeout(timer);
  for (const off of unsubscribe) off();

  const results: PhaseResult[] = [];
  replies.forEach((reply, k) => {
    if (reply?.type === "result") results.push(reply.result);
    else
      aborted ??=
        reply === null
          ? `load-generator thread ${k} did not report within ${Math.round(waitMs / 1000)} s`
          : reply.type === "init-failed"
            ? reply.message
            : `load-generator thread ${k} sent ${reply.type}`;
  });
  const merged = mergeResults(results);
  const servers = await sampler.stop(merged.ok);
  const measuredSeconds = merged.measuredMs / 1000;
  return {
    op,
    label,
    opsPerSecond: measuredSeconds > 0 ? merged.ok / measuredSeconds : 0,
    ok: merged.ok,
    errors: merged.errors,
    errorCount: merged.errorCount,
    errorSamples: merged.errorSamples,
    latencyMs: merged.latencyMs,
    measuredSeconds: Math.round(measuredSeconds * 1000) / 1000,
    unfinished: merged.unfinished,
    aborted: aborted ?? merged.aborted,
    ...servers,
    windows: merged.windows,
    leaderBefore,
    leaderAfter: await cluster.leader(),
    leaderStateAfter: await cluster.leaderDetails(),
  };
}
