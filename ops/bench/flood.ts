/**
 * The flood phase: `requests` puts sent at once over the connections to the leader. Every one
 * must be answered: ok, refused with OVERLOADED (admission control), or another error, each
 * counted; the latency of the admitted ones (ok) is what the goal bounds.
 */
import { errorCode, type ScenarioClient } from "./scenario-clients.js";

export interface FloodReport {
  readonly name: "flood";
  readonly requests: number;
  readonly ok: number;
  readonly overloaded: number;
  /** Other answers that were errors, by code (stageraft's TIMEOUT: the server gave up after 5 s). */
  readonly otherErrors: Record<string, number>;
  /** No answer: the client's own timeout ran out, or the connection was lost, by code. */
  readonly unanswered: Record<string, number>;
  readonly allAnswered: boolean;
  readonly admittedP50Ms: number | null;
  readonly admittedP99Ms: number | null;
  readonly admittedMaxMs: number | null;
  /** The first few failures' messages. */
  readonly errorSamples: string[];
  /**
   * CPU seconds of the bench process (the flood's client side) meanwhile: near `seconds`, the
   * client, not the server, set the pace.
   */
  readonly benchCpuSeconds: number;
  /** First request sent → last answer, s. */
  readonly seconds: number;
  readonly error: string | null;
}

/** Codes of a lost connection (stageraft, gRPC, sockets): the request was never answered. */
const connectionLost = /CONNECTION|Unavailable|ECONN/;
/** Codes of a timeout: the client's own when it came at its limit, else the server's answer. */
const timedOut = /TIMEOUT|DEADLINE|Deadline/;

/** The `p`th percentile (0–100) of sorted values, nearest rank. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export async function flood(
  clients: readonly ScenarioClient[],
  requests: number,
  value: string,
  clientTimeoutMs: number,
): Promise<FloodReport> {
  const latencies: number[] = [];
  let overloaded = 0;
  const otherErrors: Record<string, number> = {};
  const unanswered: Record<string, number> = {};
  const errorSamples: string[] = [];
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const calls: Promise<void>[] = [];
  for (let k = 0; k < requests; k++) {
    const t0 = performance.now();
    calls.push(
      clients[k % clients.length]!.put(`x${String(k).padStart(15, "0")}`, value).then(
        () => void latencies.push(performance.now() - t0),
        (error: unknown) => {
          const code = errorCode(error);
          if (errorSamples.length < 3)
            errorSamples.push(String((error as Error)?.message ?? error));
          const elapsedMs = performance.now() - t0;
          const lost =
            connectionLost.test(code) ||
            (timedOut.test(code) && elapsedMs >= clientTimeoutMs * 0.98);
          const counts = lost ? unanswered : otherErrors;
          if (code === "OVERLOADED") overloaded++;
          else counts[code] = (counts[code] ?? 0) + 1;
        },
      ),
    );
  }
  await Promise.all(calls);
  const seconds = Math.round((performance.now() - started) / 100) / 10;
  const cpu = process.cpuUsage(cpuBefore);
  latencies.sort((a, b) => a - b);
  const round = (value: number | null) => (value === null ? null : Math.round(value));
  return {
    name: "flood",
    requests,
    ok: latencies.length,
    overloaded,
    otherErrors,
    unanswered,
    allAnswered: Object.keys(unanswered).length === 0,
    admittedP50Ms: round(percentile(latencies, 50)),
    admittedP99Ms: round(percentile(latencies, 99)),
    admittedMaxMs: round(latencies.at(-1) ?? null),
    errorSamples,
    benchCpuSeconds: Math.round((cpu.user + cpu.system) / 1e5) / 10,
    seconds,
    error: null,
  };
}
