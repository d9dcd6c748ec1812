import { join } from "node:path";
import type { KvEngine } from "./engine.js";
import { LevelKvEngine } from "./kv-level.js";
import { MemoryKvEngine } from "./kv-memory.js";
import type { HistorySettings } from "./revision-store.js";
import { FlatIndex } from "./vector-flat.js";
import { HnswIndex } from "./vector-hnsw.js";
import type { HnswParams, VectorIndex, VectorMetric } from "./vector-index.js";

/**
 * Engines by the names the config uses. To add one: implement KvEngine (engine.ts) or
 * VectorIndex (vector-index.ts), add it here, and add its name to the config schema
 * (src/config.ts: engines.kv / engines.vector) and the protocol's vcreate "engine" values.
 * docs/engines.md walks through it.
 */
export const kvEngines = {
  level: (dataDir: string, history?: HistorySettings): KvEngine =>
    new LevelKvEngine(join(dataDir, "kv"), history ? { history } : {}),
  memory: (_dataDir: string, history?: HistorySettings): KvEngine => new MemoryKvEngine(history),
} as const satisfies Record<string, (dataDir: string, history?: HistorySettings) => KvEngine>;

export type KvEngineName = keyof typeof kvEngines;

export const vectorIndexes = {
  hnsw: (dim: number, metric: VectorMetric, params: HnswParams): VectorIndex =>
    new HnswIndex(dim, metric, params),
  flat: (dim: number, metric: VectorMetric, _params: HnswParams): VectorIndex =>
    new FlatIndex(dim, metric),
} as const satisfies Record<
  string,
  (dim: number, metric: VectorMetric, params: HnswParams) => VectorIndex
>;

export type VectorIndexName = keyof typeof vectorIndexes;
