import type { Consistency } from "../../stages/protocol.js";
import type { VectorPoint } from "../../stages/protocol-vector-ops.js";
import type { Filter, Meta } from "../../storage/engines/vector-filter.js";

export type { VectorPoint } from "../../stages/protocol-vector-ops.js";
export type { Filter, Meta } from "../../storage/engines/vector-filter.js";

export interface VectorSearchHit {
  readonly key: string;
  readonly score: number;
  readonly meta: Meta | null;
  readonly vector?: number[];
}

export interface VectorSearchOptions {
  readonly filter?: Filter;
  readonly scoreThreshold?: number;
  readonly offset?: number;
  readonly withVector?: boolean;
  readonly ef?: number;
  readonly consistency?: Consistency;
}

export interface CollectionInfo {
  readonly dim: number;
  readonly metric: "l2" | "cosine" | "ip";
  readonly engine: "hnsw" | "flat";
  readonly count: number;
  readonly params: { m: number; efConstruction: number; efSearch: number };
  /** The collection's vectors and index in memory (an estimate for hnsw). */
  readonly indexBytes: number;
  readonly index: number;
}

type Send = (frame: Record<string, unknown>) => Promise<Record<string, unknown>>;
type Read = { consistency?: Consistency };

/**
 * The vector ops of CONTRACT §6, typed: `client.vectors.put(...)` and so on. Writes go through
 * the client's request() like every write (sessions and retries included).
 */
export class VectorClient {
  constructor(private readonly send: Send) {}

  async list(options: Read = {}): Promise<string[]> {
    return ((await this.send({ op: "vlist", ...options })) as { collections: string[] })
      .collections;
  }

  async info(collection: string, options: Read = {}): Promise<CollectionInfo> {
    return (await this.send({ op: "vinfo", collection, ...options })) as unknown as CollectionInfo;
  }

  /** Drop a collection on every replica; `dropped` is false when there was none. */
  async drop(collection: string): Promise<{ dropped: boolean; index: number }> {
    return (await this.send({ op: "vdrop", collection })) as { dropped: boolean; index: number };
  }

  /** Insert or replace a batch of points in one log entry: all of them, or none. */
  async put(
    collection: string,
    points: readonly VectorPoint[],
  ): Promise<{ count: number; index: number }> {
    return (await this.send({ op: "vput", collection, points })) as {
      count: number;
      index: number;
    };
  }

  async get(
    collection: string,
    keys: readonly string[],
    options: Read & { withVector?: boolean } = {},
  ): Promise<{ key: string; vector?: number[]; meta: Meta | null }[]> {
    const result = await this.send({ op: "vget", collection, keys, ...options });
    return (result as { points: { key: string; vector?: number[]; meta: Meta | null }[] }).points;
  }

  async count(collection: string, options: Read & { filter?: Filter } = {}): Promise<number> {
    return ((await this.send({ op: "vcount", collection, ...options })) as { count: number }).count;
  }

  /** One page of keys in order; pass the returned cursor for the next (null: the end). */
  async scroll(
    collection: string,
    options: Read & { filter?: Filter; limit?: number; cursor?: string | null } = {},
  ): Promise<{ points: { key: string; meta: Meta | null }[]; cursor: string | null }> {
    return (await this.send({ op: "vscroll", collection, ...options })) as {
      points: { key: string; meta: Meta | null }[];
      cursor: string | null;
    };
  }

  /** Replace (or with merge, update field by field) a point's meta; the vector stays. */
  async setMeta(
    collection: string,
    key: string,
    meta: Meta,
    merge = false,
  ): Promise<{ index: number }> {
    return (await this.send({ op: "vset-meta", collection, key, meta, merge })) as {
      index: number;
    };
  }

  /** Delete by keys or by filter; answers how many points were deleted. */
  async delete(
    collection: string,
    which: { keys: readonly string[] } | { filter: Filter },
  ): Promise<{ deleted: number; index: number }> {
    return (await this.send({ op: "vdelete", collection, ...which })) as {
      deleted: number;
      index: number;
    };
  }

  async search(
    collection: string,
    vector: readonly number[],
    k: number,
    options: VectorSearchOptions = {},
  ): Promise<{ hits: VectorSearchHit[]; index: number }> {
    return (await this.send({ op: "vsearch", collection, vector, k, ...options })) as {
      hits: VectorSearchHit[];
      index: number;
    };
  }

  /** Several queries in one request; the answers come in their order. */
  async searchMany(
    collection: string,
    vectors: readonly (readonly number[])[],
    k: number,
    options: VectorSearchOptions = {},
  ): Promise<{ results: { hits: VectorSearchHit[] }[]; index: number }> {
    return (await this.send({ op: "vsearch", collection, vectors, k, ...options })) as {
      results: { hits: VectorSearchHit[] }[];
      index: number;
    };
  }
}
