import { bytes, int, spanOf } from "./bytes.js";
import { EtcdError } from "./errors.js";

export type Fields = Record<string, unknown>;

/** A response header at a revision (cluster_id, member_id, raft_term filled by the door). */
export type HeaderOf = (revision: unknown) => Fields;

/** A RangeRequest as a native get or scan, plus what is done here to the answer. */
export interface RangeShape {
  readonly frame: Fields;
  readonly single: boolean;
  readonly keysOnly: boolean;
  readonly countOnly: boolean;
  /** etcd's limit (0: none). */
  readonly limit: number;
  /** Sorted or filtered here: the whole range was asked for and is cut to `limit` here. */
  readonly local: boolean;
  readonly sort: { readonly target: string; readonly descend: boolean } | null;
  readonly filters: readonly ((kv: Fields) => boolean)[];
}

/** etcd's field names for the sort targets, as the native item names them. */
const SORT_FIELDS: Record<string, string> = {
  KEY: "key",
  VERSION: "version",
  CREATE: "createRevision",
  MOD: "modRevision",
  VALUE: "value",
};

export function rangeShape(req: Fields, maxScanLimit: number): RangeShape {
  const span = spanOf(req.key as Buffer, req.range_end as Buffer);
  const revision = int(req.revision);
  const limit = int(req.limit);
  if (limit < 0) throw EtcdError.invalid("limit must not be negative");
  const keysOnly = req.keys_only === true;
  const countOnly = req.count_only === true;
  const common = {
    consistency: req.serializable === true ? "stale" : "linearizable",
    ...(revision > 0 ? { revision } : {}),
  };
  const sort = sortOf(req);
  const filters = filtersOf(req);
  const local = sort !== null || filters.length > 0;
  const single = "key" in span;
  const frame: Fields = single
    ? { op: "get", key: span.key, ...common }
    : {
        op: "scan",
        ...span,
        ...common,
        limit: local || limit === 0 ? maxScanLimit : Math.min(limit, maxScanLimit),
        ...(keysOnly && !local ? { keysOnly: true } : {}),
        ...(countOnly && !local ? { countOnly: true } : {}),
      };
  return { frame, single, keysOnly, countOnly, limit, local, sort, filters };
}

/** Key order ascending is the native order; anything else is sorted here. */
function sortOf(req: Fields): RangeShape["sort"] {
  const order = (req.sort_order as string) ?? "NONE";
  const target = (req.sort_target as string) ?? "KEY";
  if (target === "KEY" && order !== "DESCEND") return null;
  const field = SORT_FIELDS[target];
  if (field === undefined) throw EtcdError.invalid(`unknown sort_target ${target}`);
  // etcd: an order of NONE with a target other than KEY sorts ascending.
  return { target: field, descend: order === "DESCEND" };
}

function filtersOf(req: Fields): ((kv: Fields) => boolean)[] {
  const bound = (name: string, field: string, min: boolean) => {
    const n = int(req[name]);
    if (n <= 0) return [];
    return [(kv: Fields) => (min ? Number(kv[field]) >= n : Number(kv[field]) <= n)];
  };
  return [
    ...bound("min_mod_revision", "modRevision", true),
    ...bound("max_mod_revision", "modRevision", false),
    ...bound("min_create_revision", "createRevision", true),
    ...bound("max_create_revision", "createRevision", false),
  ];
}

/** The native answer (a get or a scan result) as etcd's RangeResponse (without its header). */
export function rangeResponse(shape: RangeShape, reply: Fields): Fields {
  if (shape.single) {
    const found = reply.found === true;
    const kv = { key: shape.frame.key, ...reply };
    const kvs = found && !shape.countOnly && shape.filters.every((f) => f(kv)) ? [kv] : [];
    return {
      kvs: kvs.map((item) => keyValue(item, shape.keysOnly)),
      more: false,
      count: found ? 1 : 0,
    };
  }
  let items = (reply.items as Fields[]) ?? [];
  let more = reply.more === true;
  if (shape.local) {
    if (more)
      throw EtcdError.invalid(
        `a sorted or filtered range is served for at most ${shape.frame.limit} keys; this one holds ${String(reply.count)}`,
      );
    items = sortItems(
      items.filter((kv) => shape.filters.every((f) => f(kv))),
      shape.sort,
    );
    more = shape.limit > 0 && items.length > shape.limit;
    if (more) items = items.slice(0, shape.limit);
  }
  const kvs = shape.countOnly ? [] : items.map((kv) => keyValue(kv, shape.keysOnly));
  return { kvs, more, count: reply.count };
}

function sortItems(items: Fields[], sort: RangeShape["sort"]): Fields[] {
  if (sort === null) return items;
  const { target, descend } = sort;
  const sign = descend ? -1 : 1;
  const compare = (a: Fields, b: Fields): number => {
    const x = a[target];
    const y = b[target];
    if (typeof x === "number" && typeof y === "number") return x - y;
    return Buffer.compare(Buffer.from(String(x)), Buffer.from(String(y)));
  };
  // Stable: ties keep key order, as etcd's.
  return [...items].sort((a, b) => sign * compare(a, b));
}

/** A native item as mvccpb.KeyValue. */
export function keyValue(kv: Fields, keysOnly: boolean): Fields {
  return {
    key: bytes(kv.key as string),
    ...(keysOnly ? {} : { value: bytes((kv.value as string) ?? "") }),
    create_revision: kv.createRevision,
    mod_revision: kv.modRevision,
    version: kv.version,
    lease: kv.lease ?? "0",
  };
}
