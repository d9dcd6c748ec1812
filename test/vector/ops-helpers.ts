/** Helpers of the vector ops tests (ops.test.ts, apply.test.ts). */
import { readVector } from "../../stages/apply/vector-commands.js";
import type { ReplyBody } from "../../stages/items.js";
import { type Meta, type VectorResult, VectorStore } from "../../storage/engines/vector-store.js";

export const engines = ["hnsw", "flat"] as const;

export function ok(result: VectorResult): VectorResult {
  if (!result.ok) throw new Error(`${result.error}: ${result.message}`);
  return result;
}

export function read(
  store: VectorStore,
  request: Record<string, unknown>,
): Record<string, unknown> {
  const reply: ReplyBody = readVector(
    store,
    { consistency: "linearizable", ...request } as Parameters<typeof readVector>[1],
    7,
  );
  if (!reply.ok) throw new Error(`${reply.error.code}: ${reply.error.message}`);
  return reply.result as Record<string, unknown>;
}

export function storeWith(engine: (typeof engines)[number], metric: "l2" | "cosine" = "l2") {
  const store = new VectorStore();
  ok(store.apply({ op: "vcreate", collection: "c", dim: 2, metric, engine }));
  return store;
}

export const points = (n: number, meta: (k: number) => Meta | undefined = () => undefined) =>
  Array.from({ length: n }, (_, k) => ({
    key: `p${String(k).padStart(2, "0")}`,
    vector: [k + 1, 1],
    ...(meta(k) !== undefined ? { meta: meta(k)! } : {}),
  }));
