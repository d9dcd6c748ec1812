import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type VectorIndexName, vectorIndexes } from "./registry.js";
import {
  defaultHnswParams,
  type HnswParams,
  type VectorIndex,
  type VectorMetric,
} from "./vector-index.js";

export type VectorEngineName = VectorIndexName;

export interface CollectionSpec {
  readonly dim: number;
  readonly metric: VectorMetric;
  readonly engine: VectorEngineName;
  readonly params: HnswParams;
}

export type Meta = Readonly<Record<string, string | number | boolean | null>>;

export type VectorCommand =
  | {
      readonly op: "vcreate";
      readonly collection: string;
      readonly dim: number;
      readonly metric: VectorMetric;
      readonly engine?: VectorEngineName;
      readonly params?: Partial<HnswParams>;
    }
  | {
      readonly op: "vput";
      readonly collection: string;
      readonly key: string;
      readonly vector: readonly number[];
      readonly meta?: Meta;
    }
  | { readonly op: "vdelete"; readonly collection: string; readonly key: string };

export type VectorResult =
  | { readonly ok: true; readonly op: "vcreate" | "vput" }
  | { readonly ok: true; readonly op: "vdelete"; readonly deleted: boolean }
  | { readonly ok: false; readonly error: "not-found" | "invalid"; readonly message: string };

export interface VectorQuery {
  readonly collection: string;
  readonly vector: readonly number[];
  readonly k: number;
  readonly ef?: number;
  /** Equality on meta fields: every listed field must match. */
  readonly filter?: Meta;
}

export type VectorSearchResult =
  | { readonly ok: true; readonly hits: { key: string; score: number; meta: Meta | null }[] }
  | { readonly ok: false; readonly error: "not-found" | "invalid"; readonly message: string };

interface Collection {
  readonly spec: CollectionSpec;
  readonly index: VectorIndex;
  /** key → label and meta; labels are never reused for another key. */
  readonly keys: Map<string, { label: number; meta: Meta | null }>;
  readonly keyOfLabel: Map<number, string>;
  nextLabel: number;
}

export interface VectorStoreSettings {
  /** The engine a collection gets when vcreate names none. */
  readonly defaultEngine: VectorEngineName;
  readonly hnsw: HnswParams;
}

export const defaultVectorStoreSettings: VectorStoreSettings = {
  defaultEngine: "hnsw",
  hnsw: defaultHnswParams,
};

/**
 * The vector collections of one replica. Changes arrive only as applied log entries, in log
 * order, so every replica holds the same collections; a checkpoint is a directory with a
 * manifest (specs, keys, labels, meta) and one index file per collection.
 */
export class VectorStore {
  private collections = new Map<string, Collection>();
  appliedIndex = 0;

  constructor(private readonly settings: VectorStoreSettings = defaultVectorStoreSettings) {}

  get collectionCount(): number {
    return this.collections.size;
  }

  apply(command: VectorCommand): VectorResult {
    if (command.op === "vcreate") return this.create(command);
    const collection = this.collections.get(command.collection);
    if (collection === undefined) return notFound(command.collection);
    if (command.op === "vdelete") {
      const known = collection.keys.get(command.key);
      if (known === undefined) return { ok: true, op: "vdelete", deleted: false };
      collection.index.remove(known.label);
      collection.keys.delete(command.key);
      return { ok: true, op: "vdelete", deleted: true };
    }
    const invalid = checkVector(command.vector, collection.spec.dim);
    if (invalid) return { ok: false, error: "invalid", message: invalid };
    let entry = collection.keys.get(command.key);
    if (entry === undefined) {
      entry = { label: collection.nextLabel++, meta: command.meta ?? null };
      collection.keyOfLabel.set(entry.label, command.key);
    }
    collection.keys.set(command.key, { label: entry.label, meta: command.meta ?? null });
    collection.index.upsert(entry.label, Float32Array.from(command.vector));
    return { ok: true, op: "vput" };
  }

  private create(command: Extract<VectorCommand, { op: "vcreate" }>): VectorResult {
    const spec: CollectionSpec = {
      dim: command.dim,
      metric: command.metric,
      engine: command.engine ?? this.settings.defaultEngine,
      params: { ...this.settings.hnsw, ...command.params },
    };
    const existing = this.collections.get(command.collection);
    if (existing !== undefined) {
      if (JSON.stringify(existing.spec) === JSON.stringify(spec))
        return { ok: true, op: "vcreate" };
      return {
        ok: false,
        error: "invalid",
        message: `collection ${command.collection} exists with other settings`,
      };
    }
    this.collections.set(command.collection, newCollection(spec));
    return { ok: true, op: "vcreate" };
  }

  search(query: VectorQuery): VectorSearchResult {
    const collection = this.collections.get(query.collection);
    if (collection === undefined) return notFound(query.collection);
    const invalid = checkVector(query.vector, collection.spec.dim);
    if (invalid) return { ok: false, error: "invalid", message: invalid };
    const filter = query.filter;
    const accept =
      filter === undefined || Object.keys(filter).length === 0
        ? undefined
        : (label: number) => {
            const key = collection.keyOfLabel.get(label);
            const meta = key === undefined ? undefined : collection.keys.get(key)?.meta;
            return (
              meta != null &&
              Object.entries(filter).every(([field, value]) => meta[field] === value)
            );
          };
    const hits = collection.index.search(Float32Array.from(query.vector), query.k, {
      ...(query.ef !== undefined ? { ef: query.ef } : {}),
      ...(accept ? { accept } : {}),
    });
    return {
      ok: true,
      hits: hits.map(({ label, score }) => {
        const key = collection.keyOfLabel.get(label)!;
        return { key, score, meta: collection.keys.get(key)?.meta ?? null };
      }),
    };
  }

  /** Write every collection into `dir`; returns nothing, the caller archives the directory. */
  async checkpoint(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    const manifest: {
      name: string;
      file: string;
      spec: CollectionSpec;
      nextLabel: number;
      keys: [string, number, Meta | null][];
    }[] = [];
    for (const [name, collection] of [...this.collections].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      const file = `${manifest.length}.${collection.spec.engine}`;
      await collection.index.save(join(dir, file));
      manifest.push({
        name,
        file,
        spec: collection.spec,
        nextLabel: collection.nextLabel,
        keys: [...collection.keys].map(([key, { label, meta }]): [string, number, Meta | null] => [
          key,
          label,
          meta,
        ]),
      });
    }
    await writeFile(
      join(dir, "manifest.json"),
      JSON.stringify({ appliedIndex: this.appliedIndex, collections: manifest }),
    );
  }

  async restore(dir: string, index: number): Promise<void> {
    let text: string;
    try {
      text = await readFile(join(dir, "manifest.json"), "utf8");
    } catch {
      this.collections = new Map();
      this.appliedIndex = index;
      return;
    }
    const manifest = JSON.parse(text) as {
      collections: {
        name: string;
        file: string;
        spec: CollectionSpec;
        nextLabel: number;
        keys: [string, number, Meta | null][];
      }[];
    };
    const collections = new Map<string, Collection>();
    for (const item of manifest.collections) {
      const collection = newCollection(item.spec);
      collection.nextLabel = item.nextLabel;
      for (const [key, label, meta] of item.keys) {
        collection.keys.set(key, { label, meta });
        collection.keyOfLabel.set(label, key);
      }
      await collection.index.load(
        join(dir, item.file),
        [...collection.keys.values()].map((entry) => entry.label),
      );
      collections.set(item.name, collection);
    }
    this.collections = collections;
    this.appliedIndex = index;
  }

  stats(): Record<string, number> {
    let vectors = 0;
    for (const collection of this.collections.values()) vectors += collection.index.size;
    return { collections: this.collections.size, vectors, appliedIndex: this.appliedIndex };
  }
}

function newCollection(spec: CollectionSpec): Collection {
  const index = vectorIndexes[spec.engine](spec.dim, spec.metric, spec.params);
  return { spec, index, keys: new Map(), keyOfLabel: new Map(), nextLabel: 0 };
}

function notFound(collection: string): { ok: false; error: "not-found"; message: string } {
  return {
    ok: false,
    error: "not-found",
    message: `no collection named ${JSON.stringify(collection)}`,
  };
}

function checkVector(vector: readonly number[], dim: number): string | null {
  if (vector.length !== dim)
    return `the vector has ${vector.length} dimensions; the collection has ${dim}`;
  if (!vector.every((x) => Number.isFinite(x)))
    return "the vector holds a value that is not a finite number";
  return null;
}
