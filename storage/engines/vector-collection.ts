import { type VectorIndexName, vectorIndexes } from "./registry.js";
import { type Filter, type Meta, matches } from "./vector-filter.js";
import { normalize } from "./vector-flat.js";
import {
  better,
  type HnswParams,
  scoreExact,
  type VectorHit,
  type VectorIndex,
  type VectorMetric,
} from "./vector-index.js";

export interface CollectionSpec {
  readonly dim: number;
  readonly metric: VectorMetric;
  readonly engine: VectorIndexName;
  readonly params: HnswParams;
}

export interface PointInput {
  readonly key: string;
  readonly vector: ArrayLike<number>;
  readonly meta?: Meta | null;
}

export interface SearchOptions {
  readonly k: number;
  readonly offset?: number;
  readonly ef?: number;
  readonly filter?: Filter;
  readonly scoreThreshold?: number;
  readonly withVector?: boolean;
}

export interface Hit {
  key: string;
  score: number;
  meta: Meta | null;
  vector?: number[];
}

/**
 * Filtered search goes exact when the filter is estimated to match at most this many points
 * per unit of ef. Exact search costs a filter check per point plus a distance per match; the
 * graph with hnswlib's filter callback costs about ef / share visits (each a call into JS), so
 * the break-even share falls as 1/n and sits at a roughly constant number of matching points
 * (docs/benchmarks.md, "Filtered search"; measured with ops/bench/vector-filter.ts).
 */
export const EXACT_MATCHES_PER_EF = 40;
/** An upsert of `label`, or its removal (vector null), waiting for a save to finish. */
interface IndexChange {
  readonly label: number;
  readonly vector: Float32Array | null;
}

/** Points the sample evaluates the filter on to estimate its share. */
const SAMPLE = 1024;

/**
 * One collection: its index, the points' keys, labels and meta, and a copy of every vector
 * as the index holds it (normalized for cosine) for vget and exact filtered search. Labels are assigned in log order and never reused for another key.
 */
export class Collection {
  readonly index: VectorIndex;
  /** label → key and meta, in insertion order (the same on every replica). */
  readonly points = new Map<number, { key: string; meta: Meta | null }>();
  readonly labels = new Map<string, number>();
  nextLabel = 0;
  /** The crossover in use (a setting for ops/bench/vector-filter.ts, which forces each path). */
  exactMatchesPerEf = EXACT_MATCHES_PER_EF;
  private vectors: Float32Array;
  /** Index changes waiting for a save to finish (null: none is running). */
  private deferred: IndexChange[] | null = null;
  private replayed: Promise<void> = Promise.resolve();
  private sortedKeys: string[] | null = null;

  constructor(readonly spec: CollectionSpec) {
    this.index = vectorIndexes[spec.engine](spec.dim, spec.metric, spec.params);
    this.vectors = new Float32Array(spec.dim * 64);
  }

  get count(): number {
    return this.points.size;
  }

  /** Why this vector cannot go in (or be searched for) here, or null. */
  check(vector: ArrayLike<number>): string | null {
    if (vector.length !== this.spec.dim)
      return `has ${vector.length} dimensions; the collection has ${this.spec.dim}`;
    let zero = true;
    for (let d = 0; d < vector.length; d++) {
      const x = vector[d]!;
      if (!Number.isFinite(x)) return "holds a value that is not a finite number";
      if (x !== 0) zero = false;
    }
    if (zero && this.spec.metric === "cosine")
      return "is the zero vector, which has no direction (cosine collection)";
    return null;
  }

  /** Insert or replace every point; the caller has checked them all (all or nothing). */
  put(points: readonly PointInput[]): void {
    for (const point of points) {
      let label = this.labels.get(point.key);
      if (label === undefined) {
        label = this.nextLabel++;
        this.labels.set(point.key, label);
        this.sortedKeys = null;
      }
      this.points.set(label, { key: point.key, meta: point.meta ?? null });
      const vector = Float32Array.from(point.vector);
      if (this.deferred !== null) this.deferred.push({ label, vector });
      else this.upsert(label, vector);
    }
  }

  private upsert(label: number, vector: Float32Array): void {
    this.index.upsert(label, vector);
    // The copy is what the index holds (normalized by it for cosine), bit for bit: a replica
    // restored from the index file then holds the same copy as one that applied the entries.
    this.store(label, this.index.vector(label)!);
  }

  /**
   * Write the index to `path` as it is now, without holding up changes: until the file is
   * written and reloaded (hnsw: the reload resets its random generator, as on a replica
   * restored from the file), index changes queue up in log order, then replay in the
   * background. Resolves when the file is written; ready() when the queue has drained.
   */
  save(path: string): Promise<void> {
    if (this.deferred !== null) throw new Error("the collection's index is being saved already");
    const deferred: IndexChange[] = [];
    this.deferred = deferred;
    const saved = this.index.save(path);
    this.replayed = saved.then(async () => {
      while (deferred.length > 0) {
        for (const change of deferred.splice(0, 32)) {
          if (change.vector === null) this.index.remove(change.label);
          else this.upsert(change.label, change.vector);
        }
        if (deferred.length > 0) await new Promise((resolve) => setImmediate(resolve));
      }
      this.deferred = null;
    });
    // Reads wait on ready(); the caller of save() sees a failure through `saved`.
    this.replayed.catch(() => {});
    return saved;
  }

  /** Resolves once the index holds every change applied so far (reads wait for it). */
  async ready(): Promise<void> {
    await this.replayed;
  }

  /** Record a point known from a checkpoint, its vector read back from the loaded index. */
  restorePoint(key: string, label: number, meta: Meta | null): void {
    this.labels.set(key, label);
    this.points.set(label, { key, meta });
    this.sortedKeys = null;
  }

  /** After restorePoint() for every point and index.load(): copy the vectors back. */
  restoreVectors(): void {
    for (const label of this.points.keys()) {
      const vector = this.index.vector(label);
      if (vector !== null) this.store(label, vector);
    }
  }

  private store(label: number, vector: Float32Array): void {
    const dim = this.spec.dim;
    if ((label + 1) * dim > this.vectors.length) {
      const grown = new Float32Array(Math.max(this.vectors.length * 2, (label + 1) * dim));
      grown.set(this.vectors);
      this.vectors = grown;
    }
    this.vectors.set(vector, label * dim);
  }

  vectorOf(label: number): Float32Array {
    return this.vectors.subarray(label * this.spec.dim, (label + 1) * this.spec.dim);
  }

  remove(key: string): boolean {
    const label = this.labels.get(key);
    if (label === undefined) return false;
    if (this.deferred !== null) this.deferred.push({ label, vector: null });
    else this.index.remove(label);
    this.labels.delete(key);
    this.points.delete(label);
    this.sortedKeys = null;
    return true;
  }

  /** Keys whose meta passes the filter, in insertion order. */
  keysWhere(filter: Filter): string[] {
    const keys: string[] = [];
    for (const point of this.points.values()) if (matches(filter, point.meta)) keys.push(point.key);
    return keys;
  }

  /** Every key in code-unit order (cached until the key set changes). */
  keysInOrder(): readonly string[] {
    this.sortedKeys ??= [...this.labels.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return this.sortedKeys;
  }

  /** Bytes held for this collection's vectors and index (an estimate for hnsw). */
  bytes(): number {
    return Math.round(this.vectors.byteLength + this.index.bytes());
  }

  search(query: Float32Array, options: SearchOptions): Hit[] {
    const want = options.k + (options.offset ?? 0);
    const hits = options.filter
      ? this.filteredSearch(query, want, options.filter, options.ef)
      : this.index.search(query, want, options.ef !== undefined ? { ef: options.ef } : {});
    const threshold = options.scoreThreshold;
    const metric = this.spec.metric;
    return hits
      .slice(options.offset ?? 0)
      .filter(
        (hit) =>
          threshold === undefined ||
          hit.score === threshold ||
          better(metric, hit.score, threshold),
      )
      .map(({ label, score }) => {
        const point = this.points.get(label)!;
        const hit: Hit = { key: point.key, score, meta: point.meta };
        if (options.withVector) hit.vector = Array.from(this.vectorOf(label));
        return hit;
      });
  }

  /**
   * A selective filter leaves the graph's walk few points to accept: it visits many to find
   * them, each through a call into JS. Below the crossover (EXACT_MATCHES_PER_EF) the matching
   * points are scored exactly instead, which also makes recall exact. The number of matches is
   * estimated on an even sample of the points, the same on every replica.
   */
  private filteredSearch(query: Float32Array, k: number, filter: Filter, ef?: number): VectorHit[] {
    const n = this.points.size;
    const breadth = Math.max(ef ?? this.spec.params.efSearch, k);
    if (n <= SAMPLE || this.sampleShare(filter) * n <= this.exactMatchesPerEf * breadth)
      return this.exactSearch(query, k, filter);
    const accept = (label: number) => {
      const point = this.points.get(label);
      return point !== undefined && matches(filter, point.meta);
    };
    return this.index.search(query, k, { accept, ...(ef !== undefined ? { ef } : {}) });
  }

  private sampleShare(filter: Filter): number {
    const stride = Math.max(1, Math.floor(this.points.size / SAMPLE));
    let seen = 0;
    let matched = 0;
    let k = 0;
    for (const point of this.points.values()) {
      if (k++ % stride !== 0) continue;
      seen++;
      if (matches(filter, point.meta)) matched++;
    }
    return seen === 0 ? 0 : matched / seen;
  }

  private exactSearch(query: Float32Array, k: number, filter: Filter): VectorHit[] {
    const q = this.spec.metric === "cosine" ? normalize(query) : query;
    const hits: VectorHit[] = [];
    for (const [label, point] of this.points) {
      if (!matches(filter, point.meta)) continue;
      hits.push({ label, score: scoreExact(this.spec.metric, q, this.vectorOf(label)) });
    }
    const metric = this.spec.metric;
    // Best first; ties by label so every replica answers the same.
    hits.sort((a, b) =>
      a.score === b.score ? a.label - b.label : better(metric, a.score, b.score) ? -1 : 1,
    );
    return hits.slice(0, k);
  }
}
