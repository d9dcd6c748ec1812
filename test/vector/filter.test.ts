/**
 * Filters (CONTRACT §6): the meaning of each condition, and filtered search's recall against
 * exact search on both paths (hnswlib's filter callback, and exact search over the matching
 * points when the filter is selective). Seeds are fixed and printed on failure.
 */
import { describe, expect, it, onTestFinished } from "vitest";
import { type Filter, matches, parseFilter } from "../../storage/engines/vector-filter.js";
import { type Meta, VectorStore } from "../../storage/engines/vector-store.js";
import { clustered, exactSearch, prng } from "./data.js";

const meta = JSON.parse(
  '{"a":{"b":"x","n":3},"tags":["red","blue"],"n":2.5,"nul":null,"flag":false,"dot.ted":1}',
) as Meta;

function holds(filter: unknown): boolean {
  return matches(parseFilter(filter), meta);
}

describe("vector filters - meaning", () => {
  it("match: equality, dotted paths into nested objects, any element of an array", () => {
    expect(holds({ must: [{ key: "a.b", match: "x" }] })).toBe(true);
    expect(holds({ must: [{ key: "a.b", match: "y" }] })).toBe(false);
    expect(holds({ must: [{ key: "a.n", match: 3 }] })).toBe(true);
    expect(holds({ must: [{ key: "a.n", match: "3" }] })).toBe(false);
    expect(holds({ must: [{ key: "tags", match: "blue" }] })).toBe(true);
    expect(holds({ must: [{ key: "flag", match: false }] })).toBe(true);
    expect(holds({ must: [{ key: "dot.ted", match: 1 }] }), "a field named with a dot").toBe(true);
  });

  it("matchAny, range on numbers only, exists", () => {
    expect(holds({ must: [{ key: "tags", matchAny: ["green", "red"] }] })).toBe(true);
    expect(holds({ must: [{ key: "a.b", matchAny: ["y", "z"] }] })).toBe(false);
    expect(holds({ must: [{ key: "n", range: { gt: 2, lte: 2.5 } }] })).toBe(true);
    expect(holds({ must: [{ key: "n", range: { gt: 2.5 } }] })).toBe(false);
    expect(holds({ must: [{ key: "a.b", range: { gte: 0 } }] }), "a string is not in a range").toBe(
      false,
    );
    expect(holds({ must: [{ key: "a", exists: true }] })).toBe(true);
    expect(holds({ must: [{ key: "nul", exists: true }] }), "null counts as absent").toBe(false);
    expect(holds({ must: [{ key: "missing", exists: false }] })).toBe(true);
  });

  it("must: all; should: at least one; mustNot: none; nested filters; unknown fields", () => {
    expect(
      holds({
        should: [
          { key: "a.b", match: "q" },
          { key: "tags", match: "red" },
        ],
      }),
    ).toBe(true);
    expect(holds({ should: [{ key: "a.b", match: "q" }] })).toBe(false);
    expect(holds({ mustNot: [{ key: "flag", match: false }] })).toBe(false);
    expect(
      holds({
        must: [{ key: "n", range: { gt: 0 } }, { mustNot: [{ key: "tags", match: "green" }] }],
      }),
    ).toBe(true);
    // A field no point has is no error: its conditions do not hold.
    expect(holds({ must: [{ key: "nowhere.at.all", match: 1 }] })).toBe(false);
    expect(holds({ mustNot: [{ key: "nowhere", match: 1 }] })).toBe(true);
    expect(holds({}), "an empty filter keeps everything").toBe(true);
    expect(matches(parseFilter({ must: [{ key: "constructor", exists: true }] }), {})).toBe(false);
  });
});

describe("vector filters - filtered search recall against exact search", () => {
  const SEED = 0x0f11_7e12;
  const n = 6000;
  const dim = 16;
  const data = clustered(SEED, n, dim, 30);
  const random = prng(SEED + 1);
  const bucket = data.map(() => Math.floor(random() * 100));
  const store = new VectorStore();
  store.apply({
    op: "vcreate",
    collection: "c",
    dim,
    metric: "l2",
    engine: "hnsw",
    params: { m: 16, efConstruction: 100, efSearch: 64 },
  });
  for (let start = 0; start < n; start += 500) {
    store.apply({
      op: "vput",
      collection: "c",
      points: data.slice(start, start + 500).map((vector, k) => ({
        key: `p${start + k}`,
        vector,
        meta: { bucket: bucket[start + k]!, nested: { even: (start + k) % 2 === 0 } },
      })),
    });
  }
  const queries = clustered(SEED + 2, 100, dim, 30);

  const cases: [string, unknown, number][] = [
    ["10%", { must: [{ key: "bucket", range: { lt: 10 } }] }, 0.1],
    ["1%", { must: [{ key: "bucket", match: 7 }] }, 0.01],
    [
      "5% (nested path, mustNot)",
      {
        must: [{ key: "bucket", range: { lt: 10 } }],
        mustNot: [{ key: "nested.even", match: true }],
      },
      0.05,
    ],
  ];
  // Each filter through both paths: forced onto the graph (hnswlib's filter callback), and
  // forced exact; and through the path the crossover picks.
  const paths = { graph: -1, exact: Number.POSITIVE_INFINITY, chosen: undefined };
  it.each(
    cases.flatMap(([name, raw, share]) =>
      Object.entries(paths).map(([path, setting]) => [name, path, raw, share, setting] as const),
    ),
  )("recall@10 >= 0.95 with a filter matching %s, path %s", (_, path, raw, share, setting) => {
    const collection = store.collection("c")!;
    const saved = collection.exactMatchesPerEf;
    if (setting !== undefined) collection.exactMatchesPerEf = setting;
    onTestFinished(() => {
      collection.exactMatchesPerEf = saved;
    });
    const filter = parseFilter(raw) as Filter;
    const matching = new Map<string, number[]>();
    data.forEach((vector, k) => {
      if (matches(filter, { bucket: bucket[k]!, nested: { even: k % 2 === 0 } }))
        matching.set(`p${k}`, vector);
    });
    expect(matching.size / n).toBeGreaterThan(share * 0.7);
    expect(matching.size / n).toBeLessThan(share * 1.3);
    let found = 0;
    for (const query of queries) {
      const result = store.search({ collection: "c", vector: query, k: 10, filter });
      if (!result.ok) throw new Error(result.message);
      const exact = new Set(exactSearch("l2", matching, query, 10).map((hit) => hit.key));
      for (const hit of result.hits) {
        expect(matching.has(hit.key), `${hit.key} does not pass the filter`).toBe(true);
        if (exact.has(hit.key)) found++;
      }
    }
    const recall = found / (queries.length * 10);
    console.log(
      `filter ${JSON.stringify(raw)}, ${path}: recall@10 ${recall.toFixed(4)} (seed ${SEED})`,
    );
    expect(recall, `seed ${SEED}`).toBeGreaterThanOrEqual(0.95);
  });
});
