import type { Collection } from "../../storage/engines/vector-collection.js";
import { matches } from "../../storage/engines/vector-filter.js";
import type { VectorResult, VectorStore } from "../../storage/engines/vector-store.js";
import type { ReplyBody } from "../items.js";
import { ErrorCode } from "../protocol.js";
import type { VectorRequest } from "../protocol-vector-ops.js";

/**
 * The vector side of the state machine's answers (CONTRACT §6): replies to applied vector
 * commands, and vector reads served at the applied index.
 */

function fail(code: ErrorCode, message: string): ReplyBody {
  return { ok: false, error: { code, message } };
}

export function vectorReply(result: VectorResult, index: number): ReplyBody {
  if (!result.ok)
    return fail(
      result.error === "not-found" ? ErrorCode.notFound : ErrorCode.badRequest,
      result.message,
    );
  switch (result.op) {
    case "vput":
      return { ok: true, result: { index, count: result.count } };
    case "vdelete":
      return { ok: true, result: { deleted: result.deleted, index } };
    case "vdrop":
      return { ok: true, result: { dropped: result.dropped, index } };
    default:
      return { ok: true, result: { index } };
  }
}

type VectorRead = Extract<
  VectorRequest,
  { op: "vget" | "vcount" | "vscroll" | "vlist" | "vinfo" | "vsearch" }
>;

export function isVectorRead(request: { op: string }): request is VectorRead {
  return ["vget", "vcount", "vscroll", "vlist", "vinfo", "vsearch"].includes(request.op);
}

/**
 * readVector() once the collection read is ready: a snapshot may still be writing its index,
 * with changes queued behind (Collection.save); only that collection's readers wait.
 */
export async function readVectorWhenReady(
  store: VectorStore,
  request: VectorRead,
  index: number,
): Promise<ReplyBody> {
  if (request.op === "vlist") return readVector(store, request, index);
  await store.collection(request.collection)?.ready();
  return readVector(store, request, index);
}

/** Answer a vector read from this replica's store as of `index` (its applied index). */
export function readVector(store: VectorStore, request: VectorRead, index: number): ReplyBody {
  if (request.op === "vlist") return { ok: true, result: { collections: store.names(), index } };
  const collection = store.collection(request.collection);
  if (collection === undefined)
    return fail(ErrorCode.notFound, `no collection named ${JSON.stringify(request.collection)}`);
  switch (request.op) {
    case "vget": {
      const points = [];
      for (const key of request.keys) {
        const label = collection.labels.get(key);
        if (label === undefined) continue;
        const { meta } = collection.points.get(label)!;
        points.push(
          request.withVector
            ? { key, vector: Array.from(collection.vectorOf(label)), meta }
            : { key, meta },
        );
      }
      return { ok: true, result: { points, index } };
    }
    case "vcount": {
      const count =
        request.filter === undefined
          ? collection.count
          : collection.keysWhere(request.filter).length;
      return { ok: true, result: { count, index } };
    }
    case "vscroll":
      return { ok: true, result: { ...scroll(collection, request), index } };
    case "vinfo": {
      const { dim, metric, engine, params } = collection.spec;
      const bytes = collection.bytes();
      const count = collection.count;
      return {
        ok: true,
        result: { dim, metric, engine, count, params, indexBytes: bytes, index },
      };
    }
    case "vsearch":
      return search(collection, request, index);
  }
}

/** Keys from the cursor on (inclusive), in code-unit order; the cursor names the next key. */
function scroll(
  collection: Collection,
  request: Extract<VectorRead, { op: "vscroll" }>,
): { points: { key: string; meta: unknown }[]; cursor: string | null } {
  const keys = collection.keysInOrder();
  let lo = 0;
  let hi = keys.length;
  const from = request.cursor;
  if (from !== undefined)
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keys[mid]! < from) lo = mid + 1;
      else hi = mid;
    }
  const points: { key: string; meta: unknown }[] = [];
  for (let k = lo; k < keys.length; k++) {
    const key = keys[k]!;
    const { meta } = collection.points.get(collection.labels.get(key)!)!;
    if (request.filter !== undefined && !matches(request.filter, meta)) continue;
    if (points.length === request.limit) return { points, cursor: key };
    points.push({ key, meta });
  }
  return { points, cursor: null };
}

function search(
  collection: Collection,
  request: Extract<VectorRead, { op: "vsearch" }>,
  index: number,
): ReplyBody {
  const queries = request.vectors ?? [request.vector!];
  const vectors: Float32Array[] = [];
  for (const [k, vector] of queries.entries()) {
    const invalid = collection.check(vector);
    const name = request.vectors === undefined ? "vector" : `vectors[${k}]`;
    if (invalid) return fail(ErrorCode.badRequest, `"${name}" ${invalid}`);
    vectors.push(Float32Array.from(vector));
  }
  const results = vectors.map((vector) => ({ hits: collection.search(vector, request) }));
  if (request.vectors === undefined) return { ok: true, result: { hits: results[0]!.hits, index } };
  return { ok: true, result: { results, index } };
}
