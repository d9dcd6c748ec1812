/** Seeded vector data and an exact reference search for the vector tests (no engine code used). */

export type Metric = "l2" | "cosine" | "ip";

/** mulberry32: a small, fast, seeded PRNG giving floats in [0, 1). */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples (Box–Muller) from a uniform source. */
export function gaussian(random: () => number): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const out = spare;
      spare = null;
      return out;
    }
    const u = 1 - random();
    const v = random();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

/**
 * `count` vectors of `dim` dimensions around `clusters` gaussian centres (spread 1 around
 * centres drawn with spread `centreSpread`), rounded to float32 so that the stores and the
 * reference see the same numbers.
 */
export function clustered(
  seed: number,
  count: number,
  dim: number,
  clusters: number,
  centreSpread = 4,
): number[][] {
  const normal = gaussian(prng(seed));
  const centres = Array.from({ length: clusters }, () =>
    Array.from({ length: dim }, () => normal() * centreSpread),
  );
  return Array.from({ length: count }, (_, k) => {
    const centre = centres[k % clusters]!;
    return Array.from(Float32Array.from(centre, (c) => c + normal()));
  });
}

export function randomVectors(seed: number, count: number, dim: number): number[][] {
  const normal = gaussian(prng(seed));
  return Array.from({ length: count }, () =>
    Array.from(Float32Array.from({ length: dim }, () => normal())),
  );
}

function dot(a: readonly number[], b: readonly number[]): number {
  let sum = 0;
  for (let d = 0; d < a.length; d++) sum += a[d]! * b[d]!;
  return sum;
}

/** The documented score: l2 squared distance, ip the inner product, cosine the similarity. */
export function referenceScore(metric: Metric, query: readonly number[], v: readonly number[]) {
  if (metric === "l2") {
    let sum = 0;
    for (let d = 0; d < query.length; d++) sum += (query[d]! - v[d]!) ** 2;
    return sum;
  }
  if (metric === "ip") return dot(query, v);
  const norms = Math.sqrt(dot(query, query)) * Math.sqrt(dot(v, v));
  return norms === 0 ? 0 : dot(query, v) / norms;
}

/** Is score a better than b under `metric` (l2: lower, cosine and ip: higher)? */
export function betterScore(metric: Metric, a: number, b: number): boolean {
  return metric === "l2" ? a < b : a > b;
}

/** Exact k nearest of `items` (key → vector) to `query`, best first, ties by key. */
export function exactSearch(
  metric: Metric,
  items: ReadonlyMap<string, readonly number[]>,
  query: readonly number[],
  k: number,
): { key: string; score: number }[] {
  const hits = [...items].map(([key, v]) => ({ key, score: referenceScore(metric, query, v) }));
  hits.sort((a, b) =>
    a.score === b.score ? (a.key < b.key ? -1 : 1) : betterScore(metric, a.score, b.score) ? -1 : 1,
  );
  return hits.slice(0, k);
}

/** |a − b| within a float32 tolerance relative to the magnitude of b. */
export function closeTo(a: number, b: number, relative = 1e-4): boolean {
  return Math.abs(a - b) <= relative * Math.max(1, Math.abs(b));
}
