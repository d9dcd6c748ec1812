/**
 * The opt-in scenario phases (`--phases failover,restart,flood`), run after the load phases on
 * the same cluster, each with its own driver: flood.ts, failover.ts, restart.ts.
 */
import { type FailoverReport, failover } from "./failover.js";
import { type FloodReport, flood } from "./flood.js";
import type { KvConfig, ScenarioName } from "./kv-options.js";
import type { BenchCluster } from "./processes.js";
import { type RestartReport, restart } from "./restart.js";
import { scenarioClient } from "./scenario-clients.js";

export type ScenarioReport = FailoverReport | RestartReport | FloodReport;

/** Flood first (it needs the cluster whole), restart last (it leaves 200,000 more entries). */
const order: readonly ScenarioName[] = ["flood", "failover", "restart"];

export async function runScenario(
  config: KvConfig,
  system: "stageraft" | "etcd",
  cluster: BenchCluster,
  name: ScenarioName,
): Promise<ScenarioReport> {
  const value = "v".repeat(config.options.valueBytes);
  const all = cluster.nodes.map((node) => node.clientAddress);
  const timeoutMs = config.options.requestTimeout;
  if (name === "flood") {
    const leader = await cluster.waitForLeader(config.startTimeoutMs);
    const address = cluster.nodes.find((node) => node.name === leader.name)!.clientAddress;
    // Long enough for the whole flood to drain: every request must get its answer.
    const floodTimeoutMs = Math.max(120_000, timeoutMs);
    const clients = Array.from({ length: config.options.connections }, () =>
      scenarioClient(system, [address], floodTimeoutMs, 10_000),
    );
    try {
      return await flood(clients, config.options.floodRequests, value, floodTimeoutMs);
    } finally {
      for (const client of clients) client.close();
    }
  }
  if (name === "failover") {
    const client = scenarioClient(system, all, 2_000);
    try {
      return await failover(cluster, client, config.options.failoverRounds, value);
    } finally {
      client.close();
    }
  }
  return restart(
    cluster,
    () => scenarioClient(system, all, timeoutMs),
    config.options.restartEntries,
    value,
    120_000,
  );
}

export function scenarioOrder(names: readonly ScenarioName[]): ScenarioName[] {
  return order.filter((name) => names.includes(name));
}

const ms = (value: number | null) => (value === null ? "none" : `${value} ms`);

/** One line per scenario, as it finishes. */
export function scenarioLine(system: string, report: ScenarioReport): string {
  const head = `  ${system.padEnd(9)}  ${report.name.padEnd(20)}`;
  const error = report.error === null ? "" : `  ERROR: ${report.error}`;
  if (report.name === "failover")
    return `${head} write gap median ${ms(report.medianGapMs)} (each: ${report.rounds.map((round) => ms(round.gapMs)).join(", ")}); ${report.termsStarted} terms started, ${report.leaderChanges} leader changes over ${report.rounds.length} kills${error}`;
  if (report.name === "restart")
    return `${head} ${report.entries.toLocaleString("en-US")} entries (written in ${report.loadSeconds} s, ${report.failedPuts} failed); all nodes answering ${ms(report.answeringMs)}, serving a linearizable get ${ms(report.serveMs)} after the start${error}`;
  const counts = (errors: Record<string, number>, what: string) =>
    Object.entries(errors).map(
      ([code, count]) => `, ${count.toLocaleString("en-US")} ${code}${what}`,
    );
  const others = [
    ...counts(report.otherErrors, " answered"),
    ...counts(report.unanswered, " UNANSWERED"),
  ].join("");
  return `${head} ${report.requests.toLocaleString("en-US")} at once: ${report.ok.toLocaleString("en-US")} ok, ${report.overloaded.toLocaleString("en-US")} OVERLOADED${others}; ${report.allAnswered ? "every request answered" : "NOT every request answered"}; admitted p50 ${ms(report.admittedP50Ms)} p99 ${ms(report.admittedP99Ms)} max ${ms(report.admittedMaxMs)}; ${report.seconds} s (bench CPU ${report.benchCpuSeconds} s)${error}`;
}
