/**
 * The vector ops of the client protocol (CONTRACT §3 and §6): their requests as the gateway
 * (protocol-vector.ts) leaves them, and which of them are writes. protocol.ts joins them to the
 * other ops. Types only and plain tables: the client library and the server share this file.
 */
import type { Filter, Meta } from "../storage/engines/vector-filter.js";
import type { Consistency, WriteSession } from "./protocol.js";

export type VectorMetricName = "l2" | "cosine" | "ip";

export interface VectorPoint {
  readonly key: string;
  readonly vector: readonly number[];
  readonly meta?: Meta;
}

interface Read {
  readonly consistency: Consistency;
}

export type VectorRequest =
  | ({
      readonly op: "vcreate";
      readonly collection: string;
      readonly dim: number;
      readonly metric: VectorMetricName;
      readonly engine?: "hnsw" | "flat";
      readonly params?: {
        readonly m?: number;
        readonly efConstruction?: number;
        readonly efSearch?: number;
      };
    } & WriteSession)
  | ({ readonly op: "vput"; readonly collection: string } & VectorPoint & WriteSession)
  | ({
      readonly op: "vput";
      readonly collection: string;
      readonly points: readonly VectorPoint[];
    } & WriteSession)
  | ({
      readonly op: "vset-meta";
      readonly collection: string;
      readonly key: string;
      readonly meta: Meta;
      readonly merge: boolean;
    } & WriteSession)
  | ({ readonly op: "vdelete"; readonly collection: string; readonly key: string } & WriteSession)
  | ({
      readonly op: "vdelete";
      readonly collection: string;
      readonly keys: readonly string[];
    } & WriteSession)
  | ({
      readonly op: "vdelete";
      readonly collection: string;
      readonly filter: Filter;
    } & WriteSession)
  | ({ readonly op: "vdrop"; readonly collection: string } & WriteSession)
  | ({
      readonly op: "vget";
      readonly collection: string;
      readonly keys: readonly string[];
      readonly withVector: boolean;
    } & Read)
  | ({ readonly op: "vcount"; readonly collection: string; readonly filter?: Filter } & Read)
  | ({
      readonly op: "vscroll";
      readonly collection: string;
      readonly filter?: Filter;
      readonly limit: number;
      readonly cursor?: string;
    } & Read)
  | ({ readonly op: "vlist" } & Read)
  | ({ readonly op: "vinfo"; readonly collection: string } & Read)
  | ({
      readonly op: "vsearch";
      readonly collection: string;
      /** One query (`vector`, answered as `hits`) or several (`vectors`, as `results`). */
      readonly vector?: readonly number[];
      readonly vectors?: readonly (readonly number[])[];
      readonly k: number;
      readonly ef?: number;
      readonly filter?: Filter;
      readonly scoreThreshold?: number;
      readonly offset?: number;
      readonly withVector?: boolean;
    } & Read);

export type VectorOp = VectorRequest["op"];

/** Which vector ops are writes (through the log; the leader carries them out). */
export const vectorWriteOps: Record<VectorOp, boolean> = {
  vcreate: true,
  vput: true,
  "vset-meta": true,
  vdelete: true,
  vdrop: true,
  vget: false,
  vcount: false,
  vscroll: false,
  vlist: false,
  vinfo: false,
  vsearch: false,
};

/** No vector op needs the admin token. */
export const vectorAdminOps: Record<VectorOp, boolean> = Object.fromEntries(
  Object.keys(vectorWriteOps).map((op) => [op, false]),
) as Record<VectorOp, boolean>;

export function isVectorOp(op: string): op is VectorOp {
  return Object.hasOwn(vectorWriteOps, op);
}
