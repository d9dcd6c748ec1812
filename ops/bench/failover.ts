/**
 * The failover phase: under put load, SIGKILL the leader and measure the write gap, the time
 * from the kill until a put sent after it succeeds (so on the new leader: the old one is dead).
 * `rounds` times; the killed node is started again (same data dir) and the cluster settles
 * between rounds. From the kill on, a probe put is sent every `probeEveryMs` beside the load,
 * whatever is outstanding: requests stuck on the dead leader do not delay the measurement, and
 * a put committed by the old leader but answered late does not shorten it.
 */
import { ElectionWatcher } from "./elections.js";
import type { BenchCluster } from "./processes.js";
import { sleep } from "./processes.js";
import type { ScenarioClient } from "./scenario-clients.js";

export interface FailoverRound {
  readonly killed: string;
  /** Kill → first put answered by another node, ms; null: none within the limit. */
  readonly gapMs: number | null;
  readonly newLeader: string | null;
}

export interface FailoverReport {
  readonly name: "failover";
  readonly rounds: FailoverRound[];
  readonly medianGapMs: number | null;
  /** Terms started over all rounds together (each kill needs at least one election). */
  readonly termsStarted: number;
  readonly leaderChanges: number;
  readonly error: string | null;
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const probeEveryMs = 10;
const probesOutstandingMax = 500;
const failoverKey = (index: number) => `f${String(index % 10_000).padStart(15, "0")}`;

/** Closed-loop puts from `slots` loops: the load the leader is killed under. */
function putLoad(
  client: ScenarioClient,
  slots: number,
  value: string,
): { stop: () => Promise<void> } {
  let running = true;
  let next = 0;
  const loop = async () => {
    while (running) {
      try {
        await client.put(failoverKey(next++), value);
      } catch {
        await sleep(20); // a dead socket or NOT_LEADER refuses at once: back off (the probes time the gap)
      }
    }
  };
  const loops = Promise.all(Array.from({ length: slots }, loop));
  return {
    stop: async () => {
      running = false;
      await loops;
    },
  };
}

async function oneRound(
  cluster: BenchCluster,
  client: ScenarioClient,
  value: string,
  gapLimitMs: number,
): Promise<FailoverRound> {
  const leader = await cluster.waitForLeader(30_000);
  const victim = cluster.nodes.find((node) => node.name === leader.name)!;
  const load = putLoad(client, 32, value);
  await sleep(1_000); // steady load first
  let firstAfter: number | null = null;
  let outstanding = 0;
  let probe = 0;
  const probes = setInterval(() => {
    if (outstanding >= probesOutstandingMax) return;
    outstanding++;
    client.put(failoverKey(probe++), value).then(
      () => {
        outstanding--;
        firstAfter ??= performance.now();
      },
      () => outstanding--,
    );
  }, probeEveryMs);
  const killAt = performance.now();
  await victim.kill();
  const deadline = killAt + gapLimitMs;
  while (firstAfter === null && performance.now() < deadline) await sleep(5);
  clearInterval(probes);
  await load.stop();
  const gap = firstAfter as number | null;
  const after = await cluster.leader();
  victim.restart();
  return {
    killed: victim.name,
    gapMs: gap === null ? null : Math.round(gap - killAt),
    newLeader: after?.name ?? null,
  };
}

/** Waits until every node answers and they agree on a leader (the restarted one has caught up enough to follow). */
async function settled(cluster: BenchCluster, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const terms = await cluster.terms();
    const leaders = new Set(terms.map((term) => term?.leader ?? null));
    if (terms.every((term) => term !== null) && leaders.size === 1 && !leaders.has(null)) return;
    await sleep(200);
  }
  throw new Error(`the cluster did not settle within ${timeoutMs} ms after a restart`);
}

export async function failover(
  cluster: BenchCluster,
  client: ScenarioClient,
  rounds: number,
  value: string,
): Promise<FailoverReport> {
  const done: FailoverRound[] = [];
  const elections = new ElectionWatcher(cluster, 100);
  let error: string | null = null;
  try {
    for (let round = 0; round < rounds; round++) {
      done.push(await oneRound(cluster, client, value, 15_000));
      await settled(cluster, 30_000);
      await sleep(1_000);
    }
  } catch (caught) {
    error = (caught as Error).message;
  }
  const count = await elections.stop();
  return {
    name: "failover",
    rounds: done,
    medianGapMs: median(done.flatMap((round) => (round.gapMs === null ? [] : [round.gapMs]))),
    termsStarted: count.termsStarted,
    leaderChanges: count.leaderChanges,
    error,
  };
}
