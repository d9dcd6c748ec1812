/**
 * The restart phase: write `entries` entries, SIGKILL all three nodes, start them again on the
 * same data dirs, and time until a linearizable get of the last entry written succeeds.
 */
import { type BenchCluster, sleep } from "./processes.js";
import { putMany, type ScenarioClient } from "./scenario-clients.js";

export interface RestartReport {
  readonly name: "restart";
  readonly entries: number;
  /** Puts that failed while writing the entries. */
  readonly failedPuts: number;
  readonly loadSeconds: number;
  /** Start of the three processes → first linearizable get that succeeds, ms; null: none. */
  readonly serveMs: number | null;
  /** Start → every node answers its status over HTTP (it listens; its WAL is loaded), ms. */
  readonly answeringMs: number | null;
  readonly error: string | null;
}

/** ms from `startedAt` until every node answers its status, or null past the limit. */
async function untilAnswering(
  cluster: BenchCluster,
  startedAt: number,
  limitMs: number,
): Promise<number | null> {
  while (performance.now() - startedAt < limitMs) {
    if ((await cluster.terms()).every((term) => term !== null))
      return Math.round(performance.now() - startedAt);
    await sleep(20);
  }
  return null;
}

const key = (index: number) => `r${String(index).padStart(12, "0")}`;

export async function restart(
  cluster: BenchCluster,
  client: () => ScenarioClient,
  entries: number,
  value: string,
  limitMs: number,
): Promise<RestartReport> {
  const writer = client();
  const loadStart = performance.now();
  let failedPuts = 0;
  try {
    failedPuts = await putMany(writer, "r", entries, value, 256);
    // The last key, once more: it is the one the get must find after the restart.
    await writer.put(key(entries - 1), value);
  } catch (error) {
    writer.close();
    return {
      name: "restart",
      entries,
      failedPuts,
      loadSeconds: 0,
      serveMs: null,
      answeringMs: null,
      error: (error as Error).message,
    };
  }
  writer.close();
  const loadSeconds = Math.round((performance.now() - loadStart) / 100) / 10;
  await Promise.all(cluster.nodes.map((node) => node.kill()));
  const reader = client();
  const startedAt = performance.now();
  for (const node of cluster.nodes) node.restart();
  const answering = untilAnswering(cluster, startedAt, limitMs);
  let serveMs: number | null = null;
  let lastError = "";
  while (serveMs === null && performance.now() - startedAt < limitMs) {
    try {
      if (await reader.get(key(entries - 1))) serveMs = Math.round(performance.now() - startedAt);
      else lastError = "the last entry written was not found";
    } catch (error) {
      lastError = (error as Error).message;
      await sleep(20);
    }
  }
  reader.close();
  const answeringMs = await answering;
  return {
    name: "restart",
    entries,
    failedPuts,
    loadSeconds,
    serveMs,
    answeringMs,
    error: serveMs === null ? `no linearizable get within ${limitMs} ms: ${lastError}` : null,
  };
}
