/**
 * The API phases of `npm run bench -- api` (api.ts): watch fan-out, txn/s, keep-alives/s, each
 * against one system's leader through an ApiTarget (api-targets.ts). They run in the bench's
 * main thread: a closed loop of `window` requests in flight per connection, like the KV bench.
 */
import type { ApiTarget } from "./api-targets.js";
import { sleep } from "./launch.js";
import { xorshift } from "./xorshift.js";

export type ApiPhase = "watch" | "txn" | "lease";
export const apiPhases: readonly ApiPhase[] = ["watch", "txn", "lease"];

export interface LoopResult {
  readonly ok: number;
  readonly errors: Record<string, number>;
  readonly errorSamples: string[];
  readonly perSecond: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
}

export interface WatchCheck {
  readonly watchers: number;
  /** Watchers that received exactly every acknowledged put, in order, once. */
  readonly complete: number;
  /** Acknowledged puts some watcher never received (summed over watchers). */
  readonly missing: number;
  /** Events received twice or out of revision order (summed over watchers). */
  readonly doubled: number;
  /** Events of no acknowledged put (puts that failed on the client may still have applied). */
  readonly extra: number;
}

export interface PhaseFigure extends LoopResult {
  readonly phase: ApiPhase;
  /** watch: events delivered per second to all watchers together; else requests per second. */
  readonly unit: string;
  readonly puts?: LoopResult;
  readonly check?: WatchCheck;
  readonly drainedMs?: number;
}

function percentile(sorted: Float64Array, p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  if (typeof code === "string") return code;
  return (error as Error)?.name ?? "UNKNOWN";
}

/**
 * `window` requests in flight on each target for warmupMs + measureMs; only requests that
 * complete inside the measured window count. `request` throws to count an error.
 */
export async function closedLoop(
  targets: readonly ApiTarget[],
  options: { window: number; warmupMs: number; measureMs: number; seed: number },
  request: (target: ApiTarget, random: () => number) => Promise<void>,
): Promise<LoopResult> {
  const random = xorshift(options.seed);
  const start = performance.now();
  const measureStart = start + options.warmupMs;
  const measureEnd = measureStart + options.measureMs;
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  const errorSamples: string[] = [];
  const slot = async (target: ApiTarget) => {
    while (performance.now() < measureEnd) {
      const t0 = performance.now();
      let code: string | null = null;
      try {
        await request(target, random);
      } catch (error) {
        code = codeOf(error);
        if (errorSamples.length < 5) errorSamples.push(String((error as Error)?.message ?? error));
      }
      const t1 = performance.now();
      if (t1 >= measureStart && t1 < measureEnd) {
        if (code === null) latencies.push(t1 - t0);
        else errors[code] = (errors[code] ?? 0) + 1;
      }
      if (code !== null) await sleep(5); // no spinning on instant refusals
    }
  };
  await Promise.all(
    targets.flatMap((target) => Array.from({ length: options.window }, () => slot(target))),
  );
  const sorted = Float64Array.from(latencies).sort();
  return {
    ok: latencies.length,
    errors,
    errorSamples,
    perSecond: latencies.length / (options.measureMs / 1000),
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
  };
}

const value = (random: () => number, bytes: number) =>
  String(random()).padEnd(bytes, "x").slice(0, bytes);

/** txn: if key exists, put it and a second key (one atomic entry); the failure branch is an error. */
export async function txnPhase(
  targets: readonly ApiTarget[],
  options: {
    window: number;
    warmupMs: number;
    measureMs: number;
    keys: number;
    valueBytes: number;
  },
): Promise<PhaseFigure> {
  const keyOf = (k: number) => `t/${String(k).padStart(8, "0")}`;
  const loader = targets[0]!;
  for (let k = 0; k < options.keys; k += 64)
    await Promise.all(
      Array.from({ length: Math.min(64, options.keys - k) }, (_, j) =>
        loader.put(keyOf(k + j), "0"),
      ),
    );
  const result = await closedLoop(targets, { ...options, seed: 0x7c1 }, async (target, random) => {
    const key = random() % options.keys;
    const other = (key + 1 + (random() % (options.keys - 1))) % options.keys;
    if (!(await target.txnPutBoth(keyOf(key), keyOf(other), value(random, options.valueBytes))))
      throw Object.assign(new Error(`txn on ${keyOf(key)} took the failure branch`), {
        code: "FAILURE_BRANCH",
      });
  });
  return { phase: "txn", unit: "txn/s", ...result };
}

/** lease: keep-alives on `leases` leases granted first, chosen at random. */
export async function leasePhase(
  targets: readonly ApiTarget[],
  options: { window: number; warmupMs: number; measureMs: number; leases: number },
): Promise<PhaseFigure> {
  const ids: string[] = [];
  for (let k = 0; k < options.leases; k++) ids.push(await targets[k % targets.length]!.grant(600));
  const result = await closedLoop(
    targets,
    { ...options, seed: 0x1ea5e },
    async (target, random) => {
      const ttl = await target.keepAlive(ids[random() % ids.length]!);
      if (!(ttl > 0))
        throw Object.assign(new Error(`keep-alive answered ttl ${ttl}`), { code: "LEASE_GONE" });
    },
  );
  return { phase: "lease", unit: "keep-alives/s", ...result };
}
