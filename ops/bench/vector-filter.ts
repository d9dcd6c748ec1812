/**
 * node dist/ops/bench/vector-filter.js [--count N] [--dim D] [--queries Q] [--runs R]
 *
 * Where filtered search should switch from the graph to exact search: one in-process
 * VectorStore (hnsw, l2, M 16, efConstruction 200, efSearch 64) over seeded clustered data
 * whose points carry `bucket` = row % 1000; for filters matching 0.5% … 50% of the points
 * (`bucket` < share × 1000), every query runs through both paths — hnswlib's filter callback
 * over the graph, and exact search over the matching points — and prints queries/s and
 * recall@10 against the exact answer, per run (the spread shows the noise). Not a test.
 */
import { pathToFileURL } from "node:url";
import { Command, Option } from "commander";
import type { StageraftClient } from "../../src/mod.js";
import { parseFilter } from "../../storage/engines/vector-filter.js";
import { VectorStore } from "../../storage/engines/vector-store.js";
import { exactTopK, generate, recallOf, rowOf } from "./vector.js";

type Metric = "l2" | "cosine" | "ip";

/**
 * Filtered searches through the cluster (the bench's points carry bucket = row % 100): for
 * filters matching 10% and 1% of the points, every query once, recall@10 against the exact
 * answer over the matching points, and queries/s one at a time.
 */
export async function filteredRecall(
  client: StageraftClient,
  data: Float32Array,
  queries: Float32Array,
  dim: number,
  metric: Metric,
): Promise<{ share: number; recallAt10: number; queriesPerSecond: number }[]> {
  const out = [];
  const count = data.length / dim;
  for (const [share, filter] of [
    [0.1, { must: [{ key: "bucket", range: { lt: 10 } }] }],
    [0.01, { must: [{ key: "bucket", match: 0 }] }],
  ] as const) {
    const rows = Array.from({ length: count }, (_, row) => row).filter((row) =>
      share === 0.1 ? row % 100 < 10 : row % 100 === 0,
    );
    const subset = new Float32Array(rows.length * dim);
    for (const [k, row] of rows.entries())
      subset.set(data.subarray(row * dim, (row + 1) * dim), k * dim);
    const truth = exactTopK(metric, subset, queries, dim, 10).map((labels) =>
      labels.map((label) => rows[label]!),
    );
    const found: number[][] = [];
    const started = performance.now();
    for (let q = 0; q < queries.length / dim; q++) {
      const { hits } = await client.vectors.search("bench", rowOf(queries, dim, q), 10, { filter });
      found.push(hits.map((hit) => Number(hit.key.slice(1))));
    }
    const seconds = (performance.now() - started) / 1000;
    out.push({
      share,
      recallAt10: recallOf(truth, found),
      queriesPerSecond: found.length / seconds,
    });
  }
  return out;
}

function main(): void {
  const options = new Command("vector-filter")
    .addOption(new Option("--count <n>").argParser(Number).default(20_000))
    .addOption(new Option("--dim <n>").argParser(Number).default(128))
    .addOption(new Option("--queries <n>").argParser(Number).default(200))
    .addOption(new Option("--runs <n>").argParser(Number).default(3))
    .parse(process.argv)
    .opts<{ count: number; dim: number; queries: number; runs: number }>();

  const { count, dim } = options;
  const points = generate(20_261_207, count + options.queries, dim, 100);
  const store = new VectorStore();
  store.apply({
    op: "vcreate",
    collection: "c",
    dim,
    metric: "l2",
    engine: "hnsw",
    params: { m: 16, efConstruction: 200, efSearch: 64 },
  });
  let started = performance.now();
  for (let start = 0; start < count; start += 256) {
    const rows = Array.from({ length: Math.min(256, count - start) }, (_, k) => start + k);
    store.apply({
      op: "vput",
      collection: "c",
      points: rows.map((row) => ({
        key: String(row),
        vector: rowOf(points, dim, row),
        meta: { bucket: row % 1000 },
      })),
    });
  }
  const buildSeconds = (performance.now() - started) / 1000;
  process.stdout.write(
    `${count} x ${dim}-d built in ${buildSeconds.toFixed(1)} s (${Math.round(count / buildSeconds)} points/s); ${options.queries} queries, k 10, ${options.runs} runs\n`,
  );
  const collection = store.collection("c")!;
  const queries = Array.from({ length: options.queries }, (_, q) => rowOf(points, dim, count + q));

  function measure(share: number, path: "graph" | "exact"): { qps: number; hits: string[][] } {
    const filter = parseFilter({
      must: [{ key: "bucket", range: { lt: Math.round(share * 1000) } }],
    });
    collection.exactMatchesPerEf = path === "exact" ? Number.POSITIVE_INFINITY : -1;
    const hits: string[][] = [];
    started = performance.now();
    for (const query of queries) {
      const result = store.search({ collection: "c", vector: query, k: 10, filter });
      if (!result.ok) throw new Error(result.message);
      hits.push(result.hits.map((hit) => hit.key));
    }
    return { qps: queries.length / ((performance.now() - started) / 1000), hits };
  }

  const rows: string[] = [];
  for (const share of [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5]) {
    const graph: number[] = [];
    const exact: number[] = [];
    let recall = 0;
    for (let run = 0; run < options.runs; run++) {
      const truth = measure(share, "exact");
      const approx = measure(share, "graph");
      exact.push(truth.qps);
      graph.push(approx.qps);
      let found = 0;
      truth.hits.forEach((keys, q) => {
        const got = new Set(approx.hits[q]);
        found += keys.filter((key) => got.has(key)).length;
      });
      recall = found / (queries.length * 10);
    }
    const span = (xs: number[]) => `${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))}`;
    rows.push(
      `| ${(share * 100).toFixed(1)}% | ${span(exact)} | ${span(graph)} | ${recall.toFixed(4)} |`,
    );
  }
  process.stdout.write(
    `| filter matches | exact path queries/s (min–max) | graph + callback queries/s (min–max) | graph recall@10 |\n|---|---|---|---|\n${rows.join("\n")}\n`,
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href)
  main();
