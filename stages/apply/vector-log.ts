import type {
  Filter,
  Meta,
  PointInput,
  VectorCommand,
} from "../../storage/engines/vector-store.js";
import type { ClientRequest } from "../protocol.js";
import type { VectorRequest } from "../protocol-vector-ops.js";
import type { VectorDefaults } from "./commands.js";

/**
 * How vector commands travel in log entries (msgpack, see commands.ts). Meta and filters
 * travel as JSON text: msgpackr renames a "__proto__" map key at any depth, JSON.parse keeps
 * it an own field. A batch's vectors travel as one float32 buffer (the precision the indexes
 * keep). Entries written before batches (`meta`, `metaPairs`, number[] vectors) still decode.
 */
type Wire = Record<string, unknown> & { op: string };

export function encodeVec(command: VectorCommand): Wire {
  if (command.op === "vput" && "points" in command) {
    const { points } = command;
    const dim = points[0]?.vector.length ?? 0;
    const vectors = new Float32Array(points.length * dim);
    for (const [k, point] of points.entries()) vectors.set(point.vector, k * dim);
    return {
      op: "vput",
      collection: command.collection,
      keys: points.map((point) => point.key),
      dim,
      vectors: new Uint8Array(vectors.buffer),
      metas: points.map((point) => (point.meta == null ? null : JSON.stringify(point.meta))),
    };
  }
  if ((command.op === "vput" || command.op === "vset-meta") && command.meta !== undefined) {
    const { meta, ...rest } = command;
    return { ...rest, metaJson: JSON.stringify(meta) };
  }
  if (command.op === "vdelete" && "filter" in command) {
    const { filter, ...rest } = command;
    return { ...rest, filterJson: JSON.stringify(filter) };
  }
  return command as Wire;
}

export function decodeVec(wire: Wire): VectorCommand {
  if (wire.op === "vput" && wire.vectors instanceof Uint8Array) {
    const dim = wire.dim as number;
    const bytes = wire.vectors;
    // Copied out: the buffer msgpackr hands back may not be 4-byte aligned.
    const all = new Float32Array(bytes.length / 4);
    new Uint8Array(all.buffer).set(bytes);
    const metas = wire.metas as (string | null)[];
    const points: PointInput[] = (wire.keys as string[]).map((key, k) => {
      const vector = all.subarray(k * dim, (k + 1) * dim);
      const meta = metas[k];
      return meta == null ? { key, vector } : { key, vector, meta: JSON.parse(meta) as Meta };
    });
    return { op: "vput", collection: wire.collection as string, points };
  }
  const { metaJson, metaPairs, filterJson, ...rest } = wire;
  if (typeof metaJson === "string") return { ...rest, meta: JSON.parse(metaJson) } as VectorCommand;
  if (Array.isArray(metaPairs))
    return { ...rest, meta: Object.fromEntries(metaPairs) } as VectorCommand;
  if (typeof filterJson === "string")
    return { ...rest, filter: JSON.parse(filterJson) as Filter } as VectorCommand;
  return wire as unknown as VectorCommand;
}

/** The command a vector write becomes; a vcreate carries its engine and params resolved here. */
export function toVectorCommand(request: ClientRequest, defaults: VectorDefaults): VectorCommand {
  const {
    session: _session,
    seq: _seq,
    ...command
  } = request as VectorRequest & {
    session?: string;
    seq?: number;
  };
  switch (command.op) {
    case "vcreate": {
      const { collection, dim, metric } = command;
      const { engine: configured, ...configuredParams } = defaults.collections[collection] ?? {};
      const engine = command.engine ?? configured ?? defaults.engine;
      const params = { ...defaults.hnsw, ...configuredParams, ...command.params };
      return { op: "vcreate", collection, dim, metric, engine, params };
    }
    case "vput":
    case "vset-meta":
    case "vdelete":
    case "vdrop":
      return command as VectorCommand;
    default:
      throw new Error(`not a write: ${command.op}`);
  }
}
