import hnswlib from "hnswlib-node";
import {
  type HnswParams,
  scoreOf,
  type VectorHit,
  type VectorIndex,
  type VectorMetric,
} from "./vector-index.js";

const RANDOM_SEED = 100;
const INITIAL_CAPACITY = 1024;

/**
 * Approximate search with hnswlib-node. Inserts happen in log order with a fixed seed, so
 * replicas build the same graph. hnswlib does not save its random generator with an index,
 * so after save() the index reloads itself from the file: every replica (built incrementally,
 * restarted, or sent the snapshot) then continues from the same graph and the same generator.
 */
export class HnswIndex implements VectorIndex {
  readonly kind = "hnsw";
  private index: hnswlib.HierarchicalNSW;
  private live = new Set<number>();

  constructor(
    readonly dim: number,
    readonly metric: VectorMetric,
    readonly params: HnswParams,
  ) {
    this.index = new hnswlib.HierarchicalNSW(metric, dim);
    this.index.initIndex(INITIAL_CAPACITY, params.m, params.efConstruction, RANDOM_SEED);
  }

  get size(): number {
    return this.live.size;
  }

  upsert(label: number, vector: Float32Array): void {
    if (this.index.getCurrentCount() >= this.index.getMaxElements()) {
      // An index saved empty reloads with capacity 0: never grow from less than the start size.
      this.index.resizeIndex(Math.max(this.index.getMaxElements() * 2, INITIAL_CAPACITY));
    }
    // A known label is updated in place, a removed one brought back (hnswlib unmarks it).
    this.index.addPoint(Array.from(vector), label);
    this.live.add(label);
  }

  remove(label: number): void {
    if (!this.live.delete(label)) return;
    this.index.markDelete(label);
  }

  search(
    vector: Float32Array,
    k: number,
    options: { ef?: number; accept?: (label: number) => boolean },
  ): VectorHit[] {
    const count = Math.min(k, this.live.size);
    if (count === 0) return [];
    this.index.setEf(Math.max(options.ef ?? this.params.efSearch, count));
    const result = options.accept
      ? this.index.searchKnn(Array.from(vector), count, options.accept)
      : this.index.searchKnn(Array.from(vector), count);
    return result.neighbors.map((label, k2) => ({
      label,
      score: scoreOf(this.metric, result.distances[k2]!),
    }));
  }

  vector(label: number): Float32Array | null {
    return this.live.has(label) ? Float32Array.from(this.index.getPoint(label)) : null;
  }

  /**
   * hnswlib's layout: per slot (capacity) the vector, the level-0 links (2M), the label and a
   * lock; per point a label map entry and, for the ~1/(M-1) upper levels, M links each.
   */
  bytes(): number {
    const m = this.params.m;
    const perSlot = this.dim * 4 + (2 * m * 4 + 4) + 8 + 40 + 2;
    const perPoint = 48 + (m * 4 + 4) / Math.max(1, m - 1);
    return this.index.getMaxElements() * perSlot + this.index.getCurrentCount() * perPoint;
  }

  async save(path: string): Promise<void> {
    await this.index.writeIndex(path);
    await this.load(path, this.live);
  }

  async load(path: string, live: Iterable<number>): Promise<void> {
    const index = new hnswlib.HierarchicalNSW(this.metric, this.dim);
    await index.readIndex(path);
    this.index = index;
    this.live = new Set(live);
  }
}
