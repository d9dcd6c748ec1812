/**
 * npm run bench -- vector [--quick] [--count N] [--dim D] [--queries Q] …
 * (or: node dist/ops/bench/vector.js …)
 *
 * Vector search through a 3-node durable stageraft cluster on loopback, next to hnswlib-node
 * called directly in this process on the same data (the ceiling: no network, no Raft, one
 * index instead of three on the same cores):
 *   1. seeded data: N points of D dimensions around gaussian cluster centres, Q held-out
 *      queries; the exact top-10 of every query by a full scan here (the recall reference);
 *   2. hnswlib-node in-process: insert/s, then search QPS (one thread, one query at a time)
 *      and recall@10;
 *   3. the cluster: vcreate, then every vput through the leader with many in flight (closed
 *      loop: connections x window), insert/s and latency; then vsearch (linearizable) with
 *      as many in flight for --search-seconds: QPS, latency, and recall@10 of the answers.
 * Prints the machine and the settings first, the tables at the end, and writes the JSON to
 * ops/bench/results/vector-latest.json. Not a test: it measures. Exit code 0 when all went
 * well, 1 when something broke (errors, a node died), 3 on the global timeout.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Command, InvalidArgumentError, Option } from "commander";
import hnswlib from "hnswlib-node";
import { connect, type StageraftClient } from "../../src/mod.js";
import {
  cpuSeconds,
  killEverythingSync,
  machineBusySeconds,
  StageraftCluster,
  sleep,
} from "./launch.js";
import { describeMachine, integer, machineInfo, ms, table } from "./report.js";
import { filteredRecall } from "./vector-filter.js";

type Metric = "l2" | "cosine" | "ip";

const here = dirname(fileURLToPath(import.meta.url));
/** dist/ops/bench → the package root. */
const root = resolve(here, "..", "..", "..");
const cli = join(root, "dist", "src", "cli.js");

function positiveInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1)
    throw new InvalidArgumentError("must be a positive integer");
  return parsed;
}

interface Options {
  quick?: boolean;
  count?: number;
  dim: number;
  queries?: number;
  clusters: number;
  metric: Metric;
  seed: number;
  m: number;
  efConstruction: number;
  efSearch: number;
  connections: number;
  window: number;
  searchSeconds?: number;
  batch: number;
  applyPool: "inline" | "workers";
  snapshotEvery: number;
  dataDir: string;
  requestTimeout: number;
  direct: boolean;
  timeout?: number;
  out: string;
}

function parse(argv: readonly string[]): Options {
  return new Command("bench vector")
    .description("vector search: a 3-node durable stageraft cluster vs hnswlib-node in-process")
    .option("--quick", "a smoke run: 10,000 points, 500 queries, 3 s of searches")
    .addOption(new Option("--count <n>", "points (default 100,000)").argParser(positiveInt))
    .addOption(new Option("--dim <n>", "dimensions").argParser(positiveInt).default(128))
    .addOption(
      new Option("--queries <n>", "held-out queries (default 1,000)").argParser(positiveInt),
    )
    .addOption(
      new Option("--clusters <n>", "gaussian cluster centres").argParser(positiveInt).default(100),
    )
    .addOption(new Option("--metric <m>", "metric").choices(["l2", "cosine", "ip"]).default("l2"))
    .addOption(new Option("--seed <n>", "data seed").argParser(positiveInt).default(20_261_122))
    .addOption(new Option("--m <n>", "HNSW M").argParser(positiveInt).default(16))
    .addOption(
      new Option("--ef-construction <n>", "HNSW efConstruction")
        .argParser(positiveInt)
        .default(200),
    )
    .addOption(new Option("--ef-search <n>", "HNSW efSearch").argParser(positiveInt).default(64))
    .addOption(
      new Option("--connections <n>", "client connections to the leader")
        .argParser(positiveInt)
        .default(4),
    )
    .addOption(
      new Option("--window <n>", "requests in flight per connection")
        .argParser(positiveInt)
        .default(64),
    )
    .addOption(
      new Option("--batch <n>", "points per vput (1: the single form; else one batch per request)")
        .argParser(positiveInt)
        .default(256),
    )
    .addOption(
      new Option("--search-seconds <n>", "seconds of searches (default 10; --quick: 3)").argParser(
        positiveInt,
      ),
    )
    .addOption(
      new Option("--apply-pool <kind>", "stageraft's apply stage: inline or workers")
        .choices(["inline", "workers"])
        .default("inline"),
    )
    .addOption(
      new Option("--snapshot-every <n>", "raft.snapshotEvery of the cluster")
        .argParser(positiveInt)
        .default(10_000),
    )
    .addOption(new Option("--data-dir <dir>", "where the data dirs go").default(os.tmpdir()))
    .addOption(
      new Option("--request-timeout <ms>", "per request, client side")
        .argParser(positiveInt)
        .default(30_000),
    )
    .option("--no-direct", "skip hnswlib-node in-process")
    .addOption(new Option("--timeout <s>", "global timeout of the run").argParser(positiveInt))
    .addOption(
      new Option("--out <file>", "JSON results").default(
        join(root, "ops", "bench", "results", "vector-latest.json"),
      ),
    )
    .parse(argv, { from: "user" })
    .opts<Options>();
}

// ---------------------------------------------------------------- data and the exact answers

/** mulberry32 */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * count x dim points around `clusters` centres (spread 1, noise 1: overlapping clusters),
 * rounded to 4 decimals so that the JSON on the wire is short; the Float32Array holds exactly
 * what a server holds after Float32Array.from(vector).
 */
export function generate(seed: number, count: number, dim: number, clusters: number): Float32Array {
  const random = prng(seed);
  const normal = () => {
    const u = 1 - random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  };
  const centres = Array.from({ length: clusters }, () => Array.from({ length: dim }, normal));
  const out = new Float32Array(count * dim);
  for (let row = 0; row < count; row++) {
    const centre = centres[Math.floor(random() * clusters)]!;
    for (let d = 0; d < dim; d++)
      out[row * dim + d] = Math.round((centre[d]! + normal()) * 1e4) / 1e4;
  }
  return out;
}

export function rowOf(data: Float32Array, dim: number, row: number): number[] {
  return Array.from(data.subarray(row * dim, (row + 1) * dim));
}

/** Exact top-k labels per query by a full scan (best first). */
export function exactTopK(
  metric: Metric,
  data: Float32Array,
  queries: Float32Array,
  dim: number,
  k: number,
): number[][] {
  const count = data.length / dim;
  const norms = new Float64Array(count);
  if (metric === "cosine")
    for (let row = 0; row < count; row++) {
      let sum = 0;
      for (let d = 0; d < dim; d++) sum += data[row * dim + d]! ** 2;
      norms[row] = Math.sqrt(sum) || 1;
    }
  const better = (a: number, b: number) => (metric === "l2" ? a < b : a > b);
  const out: number[][] = [];
  for (let q = 0; q < queries.length / dim; q++) {
    const query = queries.subarray(q * dim, (q + 1) * dim);
    const labels: number[] = [];
    const scores: number[] = [];
    for (let row = 0; row < count; row++) {
      const base = row * dim;
      let score = 0;
      if (metric === "l2")
        for (let d = 0; d < dim; d++) {
          const diff = query[d]! - data[base + d]!;
          score += diff * diff;
        }
      else {
        for (let d = 0; d < dim; d++) score += query[d]! * data[base + d]!;
        if (metric === "cosine") score /= norms[row]!;
      }
      if (labels.length === k && !better(score, scores[k - 1]!)) continue;
      let at = labels.length;
      while (at > 0 && better(score, scores[at - 1]!)) at--;
      labels.splice(at, 0, row);
      scores.splice(at, 0, score);
      if (labels.length > k) {
        labels.pop();
        scores.pop();
      }
    }
    out.push(labels);
  }
  return out;
}

export function recallOf(
  truth: readonly number[][],
  found: readonly (readonly number[])[],
): number {
  let hits = 0;
  let total = 0;
  truth.forEach((labels, q) => {
    const answer = new Set(found[q] ?? []);
    hits += labels.filter((label) => answer.has(label)).length;
    total += labels.length;
  });
  return total === 0 ? 0 : hits / total;
}

// ---------------------------------------------------------------- latency

interface Latency {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

function latencyOf(samples: number[]): Latency | null {
  if (samples.length === 0) return null;
  const sorted = Float64Array.from(samples).sort();
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[sorted.length - 1]! };
}

// ---------------------------------------------------------------- hnswlib-node in-process

interface DirectResult {
  insertSeconds: number;
  insertsPerSecond: number;
  searchSeconds: number;
  queriesPerSecond: number;
  recallAt10: number;
  searchLatencyMs: Latency | null;
}

function runDirect(
  options: Options,
  data: Float32Array,
  queries: Float32Array,
  truth: number[][],
): DirectResult {
  const count = data.length / options.dim;
  const index = new hnswlib.HierarchicalNSW(options.metric, options.dim);
  index.initIndex(count, options.m, options.efConstruction, 100);
  let started = performance.now();
  for (let row = 0; row < count; row++) index.addPoint(rowOf(data, options.dim, row), row);
  const insertSeconds = (performance.now() - started) / 1000;
  index.setEf(options.efSearch);
  const found: number[][] = [];
  const samples: number[] = [];
  started = performance.now();
  for (let q = 0; q < queries.length / options.dim; q++) {
    const t0 = performance.now();
    found.push(index.searchKnn(rowOf(queries, options.dim, q), 10).neighbors);
    samples.push(performance.now() - t0);
  }
  const searchSeconds = (performance.now() - started) / 1000;
  return {
    insertSeconds,
    insertsPerSecond: count / insertSeconds,
    searchSeconds,
    queriesPerSecond: found.length / searchSeconds,
    recallAt10: recallOf(truth, found),
    searchLatencyMs: latencyOf(samples),
  };
}

// ---------------------------------------------------------------- through the cluster

interface ClusterResult {
  startupSeconds: number;
  leader: string;
  insertSeconds: number;
  insertsPerSecond: number;
  insertLatencyMs: Latency | null;
  insertErrors: number;
  /** The longest time no vput was answered (a snapshot blocks the apply stage). */
  insertLongestStallMs: number;
  /** Snapshots the cluster took during the inserts (raft.snapshotEvery). */
  snapshotsDuringInserts: number;
  /** Until every follower had applied the last insert (they build their own index). */
  replicasCaughtUpSeconds: number | null;
  searchSeconds: number;
  searches: number;
  queriesPerSecond: number;
  searchLatencyMs: Latency | null;
  searchErrors: number;
  recallAt10: number;
  /** Filtered searches (10% and 1% of the points; with --batch > 1, which sets the meta). */
  filtered: { share: number; recallAt10: number; queriesPerSecond: number }[] | null;
  /** vinfo's indexBytes / count: the memory of vectors and graph per point on one replica. */
  bytesPerPoint: number | null;
  /**
   * Percent of one core during each phase: per server process, this bench process, and every
   * other process on the machine (noise from other jobs).
   */
  cpuPercent: { insert: CpuShare; search: CpuShare };
  errorSamples: string[];
  nodesDied: string[];
}

/**
 * Run `total` requests (or, with `untilMs`, as many as fit) with `lanes` in flight: each lane
 * sends its next request when the previous one is answered.
 */
async function closedLoop(
  clients: readonly StageraftClient[],
  lanes: number,
  total: number,
  send: (client: StageraftClient, n: number) => Promise<void>,
  untilMs: number | null,
  onError: (error: unknown) => void,
): Promise<{
  seconds: number;
  done: number;
  errors: number;
  samples: number[];
  longestStallMs: number;
}> {
  let next = 0;
  let done = 0;
  let errors = 0;
  const samples: number[] = [];
  const started = performance.now();
  let lastAnswer = started;
  let longestStallMs = 0;
  const answered = () => {
    const now = performance.now();
    longestStallMs = Math.max(longestStallMs, now - lastAnswer);
    lastAnswer = now;
  };
  const stopAt = untilMs === null ? Number.POSITIVE_INFINITY : started + untilMs;
  await Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      const client = clients[lane % clients.length]!;
      for (;;) {
        if (performance.now() >= stopAt) return;
        const n = next++;
        if (untilMs === null && n >= total) return;
        const t0 = performance.now();
        try {
          await send(client, n % total);
          samples.push(performance.now() - t0);
          done++;
          answered();
        } catch (error) {
          answered();
          errors++;
          onError(error);
          if (errors > 100 && errors > done) return;
        }
      }
    }),
  );
  return {
    seconds: (performance.now() - started) / 1000,
    done,
    errors,
    samples,
    longestStallMs,
  };
}

interface CpuSample {
  readonly servers: (number | null)[];
  readonly self: number;
  readonly machine: number | null;
}

interface CpuShare {
  readonly servers: (number | null)[];
  readonly bench: number;
  readonly others: number | null;
}

function cpuShare(before: CpuSample, after: CpuSample, seconds: number): CpuShare {
  const percent = (start: number | null | undefined, end: number | null | undefined) =>
    start === null || start === undefined || end === null || end === undefined || seconds <= 0
      ? null
      : Math.round(((end - start) / seconds) * 100);
  const servers = after.servers.map((end, k) => percent(before.servers[k], end));
  const bench = percent(before.self, after.self) ?? 0;
  const machine = percent(before.machine, after.machine);
  const known = servers.reduce<number>((sum, value) => sum + (value ?? 0), 0) + bench;
  return { servers, bench, others: machine === null ? null : Math.max(0, machine - known) };
}

async function runCluster(
  options: Options,
  data: Float32Array,
  queries: Float32Array,
  truth: number[][],
  searchSeconds: number,
  log: (line: string) => void,
): Promise<ClusterResult> {
  const count = data.length / options.dim;
  const queryCount = queries.length / options.dim;
  const config = {
    raft: {
      tickMs: 100,
      electionTicks: 10,
      heartbeatTicks: 1,
      snapshotEvery: options.snapshotEvery,
    },
    wal: { sync: true },
    engines: {
      kv: "level",
      vector: "hnsw",
      hnsw: { m: options.m, efConstruction: options.efConstruction, efSearch: options.efSearch },
    },
    stages: { apply: { pool: options.applyPool } },
    // The server answers TIMEOUT past this; a snapshot of a large index blocks the apply stage.
    limits: { requestTimeoutMs: options.requestTimeout },
    log: { level: "info" },
  };
  let started = performance.now();
  const cluster = await StageraftCluster.start({
    cli,
    parentDir: options.dataDir,
    config,
    startTimeoutMs: 30_000,
  });
  const errorSamples: string[] = [];
  const onError = (error: unknown) => {
    if (errorSamples.length < 5) errorSamples.push(String((error as Error)?.message ?? error));
  };
  const clients: StageraftClient[] = [];
  try {
    const startupSeconds = (performance.now() - started) / 1000;
    const leader = await cluster.waitForLeader(30_000);
    const leaderNode = cluster.nodes.find((node) => node.name === leader.name)!;
    log(`cluster: 3 nodes up in ${startupSeconds.toFixed(1)} s, leader ${leader.name}`);
    for (let c = 0; c < options.connections; c++)
      clients.push(
        connect([leaderNode.clientAddress], {
          requestTimeoutMs: options.requestTimeout,
          maxAttempts: 1,
        }),
      );
    await clients[0]!.vcreate("bench", {
      dim: options.dim,
      metric: options.metric,
      engine: "hnsw",
    });
    const lanes = options.connections * options.window;
    const cpu = (): CpuSample => {
      const self = process.cpuUsage();
      return {
        servers: cluster.nodes.map((node) => cpuSeconds(node.pid)),
        self: (self.user + self.system) / 1e6,
        machine: machineBusySeconds(),
      };
    };

    // Inserts.
    let lastIndex = 0;
    let cpuBefore = cpu();
    let progress = 0;
    const ticker = setInterval(() => {
      log(`  inserted ${integer.format(progress)} of ${integer.format(count)}`);
    }, 10_000);
    // Batches: one request and one log entry per `batch` points, a few in flight per
    // connection (a batch is already a lot of work for the followers).
    const batch = options.batch;
    const inserts = await closedLoop(
      clients,
      batch === 1 ? lanes : Math.min(lanes, options.connections * 2),
      Math.ceil(count / batch),
      async (client, b) => {
        if (batch === 1) {
          const { index } = await client.vput("bench", `p${b}`, rowOf(data, options.dim, b));
          lastIndex = Math.max(lastIndex, index);
          progress++;
          return;
        }
        const rows = Array.from(
          { length: Math.min(batch, count - b * batch) },
          (_, k) => b * batch + k,
        );
        const points = rows.map((row) => ({
          key: `p${row}`,
          vector: rowOf(data, options.dim, row),
          meta: { bucket: row % 100 },
        }));
        const { index } = await client.vectors.put("bench", points);
        lastIndex = Math.max(lastIndex, index);
        progress += rows.length;
      },
      null,
      onError,
    );
    clearInterval(ticker);
    const insertCpu = cpuShare(cpuBefore, cpu(), inserts.seconds);
    log(
      `cluster inserts: ${integer.format(progress)} in ${inserts.seconds.toFixed(1)} s = ${integer.format(progress / inserts.seconds)}/s, ${inserts.errors} errors`,
    );

    // Let the followers finish their own inserts before the searches are measured.
    started = performance.now();
    let replicasCaughtUpSeconds: number | null = null;
    const deadline = Date.now() + 600_000;
    while (Date.now() < deadline && cluster.nodes.every((node) => node.alive)) {
      const healths = await Promise.all(
        cluster.nodes.map(async (node) => {
          try {
            const response = await fetch(`http://${node.clientAddress}/health`, {
              signal: AbortSignal.timeout(2_000),
            });
            return (await response.json()) as { appliedIndex?: number };
          } catch {
            return null;
          }
        }),
      );
      if (healths.every((health) => Number(health?.appliedIndex ?? 0) >= lastIndex)) {
        replicasCaughtUpSeconds = (performance.now() - started) / 1000;
        break;
      }
      await sleep(200);
    }

    // Searches: every query once for the recall, then again for as long as asked.
    const found: number[][] = Array.from({ length: queryCount }, () => []);
    cpuBefore = cpu();
    const searches = await closedLoop(
      clients,
      lanes,
      queryCount,
      async (client, q) => {
        const { hits } = await client.vsearch("bench", rowOf(queries, options.dim, q), 10);
        found[q] = hits.map((hit) => Number(hit.key.slice(1)));
      },
      searchSeconds * 1000,
      onError,
    );
    const searchCpu = cpuShare(cpuBefore, cpu(), searches.seconds);
    const filtered =
      options.batch > 1
        ? await filteredRecall(clients[0]!, data, queries, options.dim, options.metric)
        : null;
    const info = await clients[0]!.vectors.info("bench");
    const nodesDied = cluster.nodes
      .filter((node) => !node.alive)
      .map((node) => `${node.name}: ${node.exitDescription}\n${node.tail(10)}`);
    return {
      startupSeconds,
      leader: leader.name,
      insertSeconds: inserts.seconds,
      insertsPerSecond: progress / inserts.seconds,
      insertLatencyMs: latencyOf(inserts.samples),
      insertErrors: inserts.errors,
      insertLongestStallMs: inserts.longestStallMs,
      snapshotsDuringInserts: Math.floor(lastIndex / options.snapshotEvery),
      replicasCaughtUpSeconds,
      searchSeconds: searches.seconds,
      searches: searches.done,
      queriesPerSecond: searches.done / searches.seconds,
      searchLatencyMs: latencyOf(searches.samples),
      searchErrors: searches.errors,
      recallAt10: recallOf(truth, found),
      filtered,
      bytesPerPoint: info.count > 0 ? info.indexBytes / info.count : null,
      cpuPercent: { insert: insertCpu, search: searchCpu },
      errorSamples,
      nodesDied,
    };
  } finally {
    for (const client of clients) client.close();
    await cluster.stop();
  }
}

// ---------------------------------------------------------------- the run

export async function runVectorBench(argv: readonly string[]): Promise<number> {
  const options = parse(argv);
  const count = options.count ?? (options.quick ? 10_000 : 100_000);
  const queryCount = options.queries ?? (options.quick ? 500 : 1_000);
  const searchSeconds = options.searchSeconds ?? (options.quick ? 3 : 10);
  const out = (line = "") => process.stdout.write(`${line}\n`);
  if (!existsSync(cli)) {
    process.stderr.write(`bench vector: ${cli} is missing: run \`npm run build\` first\n`);
    return 1;
  }
  const timeoutSeconds = options.timeout ?? 300 + count / 100;
  const timer = setTimeout(() => {
    process.stderr.write(`\nbench vector: the global timeout (${timeoutSeconds} s) ran out\n`);
    killEverythingSync();
    process.exit(3);
  }, timeoutSeconds * 1000);
  const stop = (signal: string, code: number) => () => {
    process.stderr.write(`\nbench vector: ${signal}: stopping every process it started\n`);
    killEverythingSync();
    process.exit(code);
  };
  process.on("SIGINT", stop("SIGINT", 130));
  process.on("SIGTERM", stop("SIGTERM", 143));
  process.on("exit", () => killEverythingSync());

  const startedAt = new Date();
  const machine = machineInfo(resolve(options.dataDir));
  const settings = {
    points: count,
    dim: options.dim,
    queries: queryCount,
    k: 10,
    metric: options.metric,
    clusters: options.clusters,
    seed: options.seed,
    hnsw: { m: options.m, efConstruction: options.efConstruction, efSearch: options.efSearch },
    connections: options.connections,
    window: options.window,
    inFlight: options.connections * options.window,
    searchSeconds,
    batch: options.batch,
    applyPool: options.applyPool,
    snapshotEvery: options.snapshotEvery,
    durability: "wal.sync=true (fsync before ack), engines.kv=level",
    raft: "heartbeat 100 ms, election 1000 ms",
  };
  out(`stageraft vector bench — ${startedAt.toISOString()}`);
  for (const line of describeMachine(machine)) out(line);
  out(
    `settings: ${integer.format(count)} points x ${options.dim}-d (${options.clusters} gaussian clusters, seed ${options.seed}), ${integer.format(queryCount)} held-out queries, k 10, metric ${options.metric}; ` +
      `HNSW m ${options.m}, efConstruction ${options.efConstruction}, efSearch ${options.efSearch}; ` +
      `cluster: 3 nodes on 127.0.0.1, ${settings.durability}, raft.snapshotEvery ${options.snapshotEvery}, apply pool ${options.applyPool}; ` +
      `${options.connections} connections x ${options.window} = ${settings.inFlight} requests in flight to the leader, request timeout ${options.requestTimeout} ms (client and server); searches linearizable for ${searchSeconds} s`,
  );
  out();

  let started = performance.now();
  const points = generate(options.seed, count + queryCount, options.dim, options.clusters);
  const data = points.subarray(0, count * options.dim);
  const queries = points.subarray(count * options.dim);
  const truth = exactTopK(options.metric, data, queries, options.dim, 10);
  out(
    `data and exact top-10 of every query (full scan): ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );

  const problems: string[] = [];
  let direct: DirectResult | null = null;
  if (options.direct) {
    started = performance.now();
    direct = runDirect(options, data, queries, truth);
    out(
      `hnswlib-node in-process: ${integer.format(direct.insertsPerSecond)} inserts/s, ${integer.format(direct.queriesPerSecond)} queries/s, recall@10 ${direct.recallAt10.toFixed(4)}`,
    );
  }
  let cluster: ClusterResult | null = null;
  try {
    cluster = await runCluster(options, data, queries, truth, searchSeconds, out);
  } catch (error) {
    problems.push(`cluster: ${(error as Error).stack ?? String(error)}`);
  }
  clearTimeout(timer);
  if (cluster !== null) {
    if (cluster.insertErrors > 0 || cluster.searchErrors > 0)
      problems.push(
        `cluster: ${cluster.insertErrors} insert and ${cluster.searchErrors} search errors; e.g. ${cluster.errorSamples[0] ?? ""}`,
      );
    for (const died of cluster.nodesDied) problems.push(`node died: ${died}`);
  }

  out();
  const latency = (value: Latency | null | undefined) =>
    value ? `${ms(value.p50)} / ${ms(value.p99)}` : "-";
  const rows: string[][] = [];
  if (cluster !== null)
    rows.push([
      "stageraft, 3 nodes (WebSocket, Raft, fsync)",
      integer.format(cluster.insertsPerSecond),
      latency(cluster.insertLatencyMs),
      integer.format(cluster.queriesPerSecond),
      latency(cluster.searchLatencyMs),
      cluster.recallAt10.toFixed(4),
    ]);
  if (direct !== null)
    rows.push([
      "hnswlib-node in-process (1 thread)",
      integer.format(direct.insertsPerSecond),
      "-",
      integer.format(direct.queriesPerSecond),
      latency(direct.searchLatencyMs),
      direct.recallAt10.toFixed(4),
    ]);
  out(
    table(
      ["", "inserts/s", "insert p50 / p99", "queries/s", "search p50 / p99", "recall@10"],
      rows,
    ),
  );
  if (cluster !== null) {
    out(
      `  cluster: ${integer.format(count)} points in ${cluster.insertSeconds.toFixed(1)} s (batches of ${options.batch}), ${cluster.snapshotsDuringInserts} snapshots on the way, longest time without an answer ${(cluster.insertLongestStallMs / 1000).toFixed(1)} s; followers caught up ${cluster.replicasCaughtUpSeconds === null ? "never" : `${cluster.replicasCaughtUpSeconds.toFixed(1)} s`} after the last ack; ` +
        `${integer.format(cluster.searches)} searches in ${cluster.searchSeconds.toFixed(1)} s`,
    );
    const share = (cpu: CpuShare) =>
      `servers ${cpu.servers.join(" ")}, bench ${cpu.bench}, other processes ${cpu.others ?? "?"}`;
    out(
      `  CPU, % of one core (${os.cpus().length} cores = ${os.cpus().length * 100}): inserts: ${share(cluster.cpuPercent.insert)}; searches: ${share(cluster.cpuPercent.search)}`,
    );
    for (const f of cluster.filtered ?? [])
      out(
        `  filtered search, ${f.share * 100}% of the points match: recall@10 ${f.recallAt10.toFixed(4)}, ${integer.format(f.queriesPerSecond)} queries/s one at a time`,
      );
    if (cluster.bytesPerPoint !== null)
      out(
        `  memory per point (vinfo indexBytes / count): ${integer.format(cluster.bytesPerPoint)} B`,
      );
  }
  if (direct !== null)
    out(
      `  in-process: ${integer.format(count)} inserts in ${direct.insertSeconds.toFixed(1)} s; ${integer.format(queryCount)} searches one at a time in ${direct.searchSeconds.toFixed(2)} s`,
    );
  out(
    "  the cluster runs three indexes (one per replica) on the same cores as the client; the in-process figure is one index, no network, no log",
  );
  if (problems.length > 0) {
    out();
    out("PROBLEMS:");
    for (const problem of problems) out(`  - ${problem}`);
  }
  const finishedAt = new Date();
  const document = {
    schema: "stageraft-bench-vector/1",
    status: problems.length === 0 ? "complete" : "complete-with-problems",
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationSeconds: (finishedAt.getTime() - startedAt.getTime()) / 1000,
    command: argv,
    machine,
    settings,
    cluster,
    direct,
    problems,
  };
  try {
    mkdirSync(dirname(resolve(options.out)), { recursive: true });
    writeFileSync(resolve(options.out), `${JSON.stringify(document, null, 2)}\n`);
    out(`\nresults written to ${resolve(options.out)}`);
  } catch (error) {
    process.stderr.write(
      `bench vector: cannot write ${options.out}: ${(error as Error).message}\n`,
    );
  }
  return problems.length === 0 ? 0 : 1;
}

// `node dist/ops/bench/vector.js …` runs it; bench.ts imports it for `npm run bench -- vector`.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href)
  process.exit(await runVectorBench(process.argv.slice(2)));
