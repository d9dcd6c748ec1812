/** Vector search behind the vector store: one index per collection. */

export const vectorMetrics = ["l2", "cosine", "ip"] as const;
export type VectorMetric = (typeof vectorMetrics)[number];

export interface HnswParams {
  /** Graph degree (hnswlib's M). */
  readonly m: number;
  readonly efConstruction: number;
  /** Default search breadth; a query may ask for more. */
  readonly efSearch: number;
}

export const defaultHnswParams: HnswParams = { m: 16, efConstruction: 200, efSearch: 64 };

/**
 * A hit's score: for l2 the squared Euclidean distance (lower is better), for ip the inner
 * product and for cosine the cosine similarity (higher is better). Hits come best first.
 */
export interface VectorHit {
  readonly label: number;
  readonly score: number;
}

/**
 * One collection's index. Labels are small integers the store assigns to keys; `upsert` of a
 * known label replaces its vector (and brings a removed label back).
 */
export interface VectorIndex {
  readonly kind: string;
  readonly size: number;
  upsert(label: number, vector: Float32Array): void;
  remove(label: number): void;
  search(
    vector: Float32Array,
    k: number,
    options: { ef?: number; accept?: (label: number) => boolean },
  ): VectorHit[];
  /** The vector stored under a live label (normalized for cosine), or null. */
  vector(label: number): Float32Array | null;
  /** Bytes the index holds in memory (an estimate where the library does not say). */
  bytes(): number;
  /** Write the index to `path` (a file). */
  save(path: string): Promise<void>;
  /** Replace the index by the file at `path` written by save(); `live` are its live labels. */
  load(path: string, live: Iterable<number>): Promise<void>;
}

/** Convert a distance-like value to the score the protocol reports. */
export function scoreOf(metric: VectorMetric, value: number): number {
  return metric === "l2" ? value : 1 - value;
}

/** Is score a better than score b? */
export function better(metric: VectorMetric, a: number, b: number): boolean {
  return metric === "l2" ? a < b : a > b;
}

/** The score an index reports, computed exactly: squared distance (l2) or dot product. */
export function scoreExact(metric: VectorMetric, q: Float32Array, v: Float32Array): number {
  let sum = 0;
  if (metric === "l2") {
    for (let d = 0; d < q.length; d++) {
      const diff = q[d]! - v[d]!;
      sum += diff * diff;
    }
    return sum;
  }
  for (let d = 0; d < q.length; d++) sum += q[d]! * v[d]!;
  return sum;
}
