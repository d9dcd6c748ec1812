/**
 * The write gap after kill -9 of the leader (issue 14), measured by hand: a 3-node cluster
 * on loopback, `--writers` put loops, the leader killed with SIGKILL after a warm-up. The gap
 * is the time between the last put that completed before the kill and the first completion of
 * a put sent after it (a reply already on its way at the kill does not count as after).
 * Each run starts a fresh cluster; the median and the load average are printed at the end.
 *
 *   node dist/ops/bench/failover-gap.js [--runs 5] [--writers 16] [--tick-ms 100]
 *     [--election-ticks 10] [--retry-backoff-ms 5] [--cli dist/src/cli.js]
 *   node dist/ops/bench/failover-gap.js --steady-s 60   # no kill: count elections under load
 *
 * Standalone on purpose: ops/bench/bench.ts gets its own failover phase.
 */
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type StageraftClient } from "../../src/mod.js";
import { StageraftCluster, sleep } from "./launch.js";

function flag(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1]! : fallback;
}

const runs = Number(flag("runs", "5"));
const writers = Number(flag("writers", "16"));
const raft = {
  tickMs: Number(flag("tick-ms", "100")),
  electionTicks: Number(flag("election-ticks", "10")),
  heartbeatTicks: 1,
};
const retryBackoffMs = Number(flag("retry-backoff-ms", "5"));
const cli = flag("cli", join(import.meta.dirname, "..", "..", "src", "cli.js"));

/** One run: the gap in ms and why the new leader's election started (steadyS: no kill). */
async function oneRun(steadyS = 0): Promise<{ gapMs: number; reason: string }> {
  const cluster = await StageraftCluster.start({
    cli,
    parentDir: tmpdir(),
    config: { raft, log: { level: process.argv.includes("--verbose") ? "info" : "warn" } },
    startTimeoutMs: 30_000,
  });
  const endpoints = cluster.nodes.map((node) => node.clientAddress);
  // Four clients (one socket per endpoint each), writers spread over them.
  const clients: StageraftClient[] = Array.from({ length: 4 }, () =>
    connect(endpoints, { retryBackoffMs, maxAttempts: 1_000, requestTimeoutMs: 5_000 }),
  );
  const completions: { startMs: number; endMs: number }[] = [];
  let running = true;
  const loops = Array.from({ length: writers }, async (_, k) => {
    for (let n = 0; running; n++) {
      const startMs = performance.now();
      try {
        await clients[k % clients.length]!.put(`w${k}`, `v${n}`);
        completions.push({ startMs, endMs: performance.now() });
      } catch {
        // A write at the dead leader; the next one goes elsewhere.
      }
    }
  });
  try {
    await sleep(2_000);
    const leader = (await cluster.waitForLeader(10_000)).name;
    if (steadyS > 0) {
      const before = await Promise.all(cluster.nodes.map((node) => electionReason(node)));
      await sleep(steadyS * 1_000);
      const after = await Promise.all(cluster.nodes.map((node) => electionReason(node)));
      const now = await cluster.waitForLeader(10_000);
      const puts = completions.length;
      return {
        gapMs: 0,
        reason: `${puts} puts in ${steadyS + 2} s; leader ${leader} -> ${now.name} term ${now.term}; elections before ${before.join(" | ")}; after ${after.join(" | ")}`,
      };
    }
    const killedAt = performance.now();
    await cluster.nodes.find((node) => node.name === leader)!.kill();
    const deadline = killedAt + 15_000;
    const sentAfter = () => completions.filter((c) => c.startMs > killedAt);
    while (sentAfter().length === 0 && performance.now() < deadline) await sleep(10);
    const after = Math.min(...sentAfter().map((c) => c.endMs));
    if (!Number.isFinite(after)) throw new Error("no write completed within 15 s of the kill");
    const before = Math.max(0, ...completions.map((c) => c.endMs).filter((t) => t <= killedAt));
    const survivors = cluster.nodes.filter((node) => node.alive);
    const reasons = await Promise.all(survivors.map((node) => electionReason(node)));
    if (process.argv.includes("--verbose"))
      for (const node of survivors) console.log(`--- ${node.name}\n${node.tail()}`);
    return { gapMs: after - before, reason: reasons.join(" | ") };
  } finally {
    running = false;
    for (const client of clients) client.close();
    await Promise.allSettled(loops);
    await cluster.stop();
  }
}

/** A node's elections started, by reason, from its /metrics ("" from a build without them). */
async function electionReason(node: { name: string; clientAddress: string }): Promise<string> {
  const response = await fetch(`http://${node.clientAddress}/metrics`);
  const text = await response.text();
  const counts = [...text.matchAll(/^stageraft_raft_elections_started_total\{[^}]*\} \d+/gm)];
  return `${node.name}: ${counts.map((m) => m[0].replace(/.*reason="([^"]+)".*\} /, "$1=")).join(" ")}`;
}

const steadyS = Number(flag("steady-s", "0"));
if (steadyS > 0) console.log((await oneRun(steadyS)).reason, `load ${loadavg()[0]!.toFixed(2)}`);
else await gapRuns();

async function gapRuns(): Promise<void> {
  const gaps: number[] = [];
  for (let run = 1; run <= runs; run++) {
    const { gapMs, reason } = await oneRun();
    gaps.push(gapMs);
    console.log(
      `run ${run}: gap ${gapMs.toFixed(0)} ms (elections started: ${reason}) load ${loadavg()[0]!.toFixed(2)}`,
    );
  }
  const sorted = [...gaps].sort((a, b) => a - b);
  const average = loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
  console.log(
    `median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(0)} ms over ${runs} runs; tick ${raft.tickMs} ms, election ${raft.electionTicks} ticks, ${writers} writers, client backoff ${retryBackoffMs} ms; loadavg ${average}`,
  );
}
