import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { VectorIndexName } from "./registry.js";
import {
  Collection,
  type CollectionSpec,
  type Hit,
  type PointInput,
  type SearchOptions,
} from "./vector-collection.js";
import type { Filter, Meta } from "./vector-filter.js";
import { defaultHnswParams, type HnswParams, type VectorMetric } from "./vector-index.js";

export type { CollectionSpec, Hit, PointInput } from "./vector-collection.js";
export type { Filter, Meta, MetaValue } from "./vector-filter.js";

export type VectorEngineName = VectorIndexName;

export type VectorCommand =
  | {
      readonly op: "vcreate";
      readonly collection: string;
      readonly dim: number;
      readonly metric: VectorMetric;
      readonly engine?: VectorEngineName;
      readonly params?: Partial<HnswParams>;
    }
  /** The single form: entries written before batches carry it. */
  | {
      readonly op: "vput";
      readonly collection: string;
      readonly key: string;
      readonly vector: readonly number[];
      readonly meta?: Meta;
    }
  | { readonly op: "vput"; readonly collection: string; readonly points: readonly PointInput[] }
  | {
      readonly op: "vset-meta";
      readonly collection: string;
      readonly key: string;
      readonly meta: Meta;
      readonly merge: boolean;
    }
  | { readonly op: "vdelete"; readonly collection: string; readonly key: string }
  | { readonly op: "vdelete"; readonly collection: string; readonly keys: readonly string[] }
  | { readonly op: "vdelete"; readonly collection: string; readonly filter: Filter }
  | { readonly op: "vdrop"; readonly collection: string };

type Failure = {
  readonly ok: false;
  readonly error: "not-found" | "invalid";
  readonly message: string;
};

export type VectorResult =
  | { readonly ok: true; readonly op: "vcreate" | "vset-meta" }
  | { readonly ok: true; readonly op: "vput"; readonly count: number }
  | { readonly ok: true; readonly op: "vdelete"; readonly deleted: boolean | number }
  | { readonly ok: true; readonly op: "vdrop"; readonly dropped: boolean }
  | Failure;

export interface VectorQuery extends Partial<SearchOptions> {
  readonly collection: string;
  readonly vector: readonly number[];
  readonly k: number;
}

export type VectorSearchResult = { readonly ok: true; readonly hits: Hit[] } | Failure;

export interface VectorStoreSettings {
  /** The engine a collection gets when vcreate names none. */
  readonly defaultEngine: VectorEngineName;
  readonly hnsw: HnswParams;
}

export const defaultVectorStoreSettings: VectorStoreSettings = {
  defaultEngine: "hnsw",
  hnsw: defaultHnswParams,
};

/** Graph inserts between two yields to the event loop (applyYielding). */
const YIELD_POINTS = 32;

interface ManifestItem {
  name: string;
  file: string;
  spec: CollectionSpec;
  nextLabel: number;
  keys: [string, number, Meta | null][];
}

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

  /** The collection named so, or undefined. */
  collection(name: string): Collection | undefined {
    return this.collections.get(name);
  }

  /** Collection names in code-unit order. */
  names(): string[] {
    return [...this.collections.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  apply(command: VectorCommand): VectorResult {
    if (command.op === "vcreate") return this.create(command);
    if (command.op === "vdrop")
      return { ok: true, op: "vdrop", dropped: this.collections.delete(command.collection) };
    const collection = this.collections.get(command.collection);
    if (collection === undefined) return notFound(command.collection);
    switch (command.op) {
      case "vput":
        return "points" in command
          ? putAll(collection, command.points, "points")
          : putAll(collection, [command], null);
      case "vset-meta": {
        const label = collection.labels.get(command.key);
        if (label === undefined)
          return {
            ok: false,
            error: "not-found",
            message: `no point with key ${JSON.stringify(command.key)}`,
          };
        const point = collection.points.get(label)!;
        point.meta = command.merge ? { ...point.meta, ...command.meta } : command.meta;
        return { ok: true, op: "vset-meta" };
      }
      case "vdelete": {
        if ("key" in command)
          return { ok: true, op: "vdelete", deleted: collection.remove(command.key) };
        const keys = "keys" in command ? command.keys : collection.keysWhere(command.filter);
        let deleted = 0;
        for (const key of keys) if (collection.remove(key)) deleted++;
        return { ok: true, op: "vdelete", deleted };
      }
    }
  }

  /**
   * apply(), giving the event loop back every YIELD_POINTS graph inserts of a batch: with the
   * apply stage inline, a batch of 256 128-d points is ~0.2 s of hnswlib work that would
   * otherwise hold up heartbeats, the WAL and replication. Nothing reads the store meanwhile
   * (the apply stage serves reads after the run), and the inserts happen in the same order,
   * so the result is the same as apply()'s.
   */
  async applyYielding(command: VectorCommand): Promise<VectorResult> {
    if (command.op !== "vput" || !("points" in command) || command.points.length <= YIELD_POINTS)
      return this.apply(command);
    const collection = this.collections.get(command.collection);
    if (collection === undefined) return notFound(command.collection);
    const refused = refusal(collection, command.points, "points");
    if (refused !== null) return refused;
    for (let start = 0; start < command.points.length; start += YIELD_POINTS) {
      if (start > 0) await new Promise((resolve) => setImmediate(resolve));
      collection.put(command.points.slice(start, start + YIELD_POINTS));
    }
    return { ok: true, op: "vput", count: command.points.length };
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
    this.collections.set(command.collection, new Collection(spec));
    return { ok: true, op: "vcreate" };
  }

  search(query: VectorQuery): VectorSearchResult {
    const collection = this.collections.get(query.collection);
    if (collection === undefined) return notFound(query.collection);
    const invalid = collection.check(query.vector);
    if (invalid) return { ok: false, error: "invalid", message: `"vector" ${invalid}` };
    return { ok: true, hits: collection.search(Float32Array.from(query.vector), query) };
  }

  /**
   * Write every collection into `dir` as of now: the manifest at once, the index files in the
   * background (resolves with `written`, the promise of them). Changes applied meanwhile do not wait:
   * they queue up per collection (Collection.save), and reads wait for ready().
   */
  async beginCheckpoint(dir: string): Promise<{ written: Promise<unknown> }> {
    await mkdir(dir, { recursive: true });
    await this.ready(); // A save still replaying its queue: the index is not at this entry yet.
    // From here on nothing awaits until every save has started: the state is the one at entry.
    const manifest: ManifestItem[] = [];
    for (const name of this.names()) {
      const collection = this.collections.get(name)!;
      const file = `${manifest.length}.${collection.spec.engine}`;
      const keys: [string, number, Meta | null][] = [];
      for (const [label, { key, meta }] of collection.points) keys.push([key, label, meta]);
      manifest.push({ name, file, spec: collection.spec, nextLabel: collection.nextLabel, keys });
    }
    const text = JSON.stringify({ appliedIndex: this.appliedIndex, collections: manifest });
    const saves = manifest.map((item) =>
      this.collections.get(item.name)!.save(join(dir, item.file)),
    );
    const written = Promise.all([writeFile(join(dir, "manifest.json"), text), ...saves]);
    written.catch(() => {}); // the caller awaits it; never an unhandled rejection meanwhile
    // Wrapped: an async function returning a promise would wait for it.
    return { written };
  }

  /** Write every collection into `dir` and wait until the indexes are usable again. */
  async checkpoint(dir: string): Promise<void> {
    // `written` is a field, not the promise beginCheckpoint resolves to: await it by name
    // (the manifest's write is not part of ready()).
    const { written } = await this.beginCheckpoint(dir);
    await written;
    await this.ready();
  }

  /** Resolves once every index holds every change applied so far. */
  async ready(): Promise<void> {
    for (const collection of this.collections.values()) await collection.ready();
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
    const manifest = JSON.parse(text) as { collections: ManifestItem[] };
    const collections = new Map<string, Collection>();
    for (const item of manifest.collections) {
      const collection = new Collection(item.spec);
      collection.nextLabel = item.nextLabel;
      for (const [key, label, meta] of item.keys) collection.restorePoint(key, label, meta);
      await collection.index.load(join(dir, item.file), collection.points.keys());
      collection.restoreVectors();
      collections.set(item.name, collection);
    }
    this.collections = collections;
    this.appliedIndex = index;
  }

  stats(): Record<string, number> {
    let vectors = 0;
    let bytes = 0;
    for (const collection of this.collections.values()) {
      vectors += collection.index.size;
      bytes += Math.round(collection.bytes());
    }
    return { collections: this.collections.size, vectors, bytes, appliedIndex: this.appliedIndex };
  }
}

/** Why a batch cannot go in (naming the point's position), or null: all or nothing. */
function refusal(
  collection: Collection,
  points: readonly PointInput[],
  field: "points" | null,
): Failure | null {
  for (const [k, point] of points.entries()) {
    const invalid = collection.check(point.vector);
    if (invalid) {
      const where =
        field === null ? '"vector"' : `"${field}[${k}].vector" (key ${JSON.stringify(point.key)})`;
      return { ok: false, error: "invalid", message: `${where} ${invalid}` };
    }
  }
  return null;
}

function putAll(
  collection: Collection,
  points: readonly PointInput[],
  field: "points" | null,
): VectorResult {
  const refused = refusal(collection, points, field);
  if (refused !== null) return refused;
  collection.put(points);
  return { ok: true, op: "vput", count: points.length };
}

function notFound(collection: string): Failure {
  return {
    ok: false,
    error: "not-found",
    message: `no collection named ${JSON.stringify(collection)}`,
  };
}
