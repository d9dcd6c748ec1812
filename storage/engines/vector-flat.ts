import { readFile, writeFile } from "node:fs/promises";
import {
  better,
  scoreExact,
  type VectorHit,
  type VectorIndex,
  type VectorMetric,
} from "./vector-index.js";

/**
 * Exact search over every vector: the reference for recall, and a fine engine for small
 * collections. File format: [count u32][dim u32] then per vector [label u32][dim × f32].
 */
export class FlatIndex implements VectorIndex {
  readonly kind = "flat";
  private vectors = new Map<number, Float32Array>();

  constructor(
    readonly dim: number,
    readonly metric: VectorMetric,
  ) {}

  get size(): number {
    return this.vectors.size;
  }

  upsert(label: number, vector: Float32Array): void {
    this.vectors.set(
      label,
      this.metric === "cosine" ? normalize(vector) : Float32Array.from(vector),
    );
  }

  remove(label: number): void {
    this.vectors.delete(label);
  }

  search(
    query: Float32Array,
    k: number,
    options: { accept?: (label: number) => boolean },
  ): VectorHit[] {
    const q = this.metric === "cosine" ? normalize(query) : query;
    const hits: VectorHit[] = [];
    for (const [label, vector] of this.vectors) {
      if (options.accept && !options.accept(label)) continue;
      hits.push({ label, score: scoreExact(this.metric, q, vector) });
    }
    // Best first; ties by label so every replica answers the same.
    hits.sort((a, b) =>
      a.score === b.score ? a.label - b.label : better(this.metric, a.score, b.score) ? -1 : 1,
    );
    return hits.slice(0, k);
  }

  vector(label: number): Float32Array | null {
    return this.vectors.get(label) ?? null;
  }

  bytes(): number {
    // The vectors plus a Map entry and a typed array header each (V8, roughly).
    return this.vectors.size * (this.dim * 4 + 120);
  }

  async save(path: string): Promise<void> {
    const stride = 4 + this.dim * 4;
    const out = Buffer.alloc(8 + this.vectors.size * stride);
    out.writeUInt32LE(this.vectors.size, 0);
    out.writeUInt32LE(this.dim, 4);
    let offset = 8;
    for (const [label, vector] of [...this.vectors].sort((a, b) => a[0] - b[0])) {
      out.writeUInt32LE(label, offset);
      Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).copy(out, offset + 4);
      offset += stride;
    }
    await writeFile(path, out);
  }

  async load(path: string, _live: Iterable<number>): Promise<void> {
    const bytes = await readFile(path);
    const count = bytes.readUInt32LE(0);
    if (bytes.readUInt32LE(4) !== this.dim)
      throw new Error(`${path}: dimension differs from the collection's`);
    const stride = 4 + this.dim * 4;
    const vectors = new Map<number, Float32Array>();
    for (let k = 0; k < count; k++) {
      const offset = 8 + k * stride;
      const vector = new Float32Array(this.dim);
      Buffer.from(vector.buffer).set(bytes.subarray(offset + 4, offset + stride));
      vectors.set(bytes.readUInt32LE(offset), vector);
    }
    this.vectors = vectors;
  }
}

export function normalize(vector: Float32Array): Float32Array {
  let norm = 0;
  for (const x of vector) norm += x * x;
  norm = Math.sqrt(norm);
  const out = new Float32Array(vector.length);
  if (norm === 0) return out;
  for (let d = 0; d < vector.length; d++) out[d] = vector[d]! / norm;
  return out;
}
