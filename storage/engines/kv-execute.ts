import {
  compareKeys,
  inRange,
  type KeySpan,
  type KvCommand,
  type KvResult,
  type ScanOptions,
  type TxnCompare,
  type TxnOp,
} from "./engine.js";
import type { KvBackend } from "./kv-backend.js";
import type { KeyValue, KvEvent } from "./revisions.js";

const INTEGER = /^-?\d+$/;

/**
 * The state one batch is applied against: the backend's keys with this batch's writes laid
 * over them, so that every command (and every op of a txn) sees the writes before it.
 */
export class BatchView {
  /** This batch's writes (null = deleted), not yet in the backend. */
  readonly pending = new Map<string, KeyValue | null>();
  private readonly fetched = new Map<string, KeyValue | null>();

  constructor(private readonly backend: KvBackend) {}

  /** Read the keys the batch names in one backend call (a put does not need its key, but
   * its metadata does). */
  async prefetch(keys: readonly string[]): Promise<void> {
    const unique = [...new Set(keys)];
    if (unique.length === 0) return;
    const values = await this.backend.get(unique);
    unique.forEach((key, k) => {
      this.fetched.set(key, values[k] ?? null);
    });
  }

  async get(key: string): Promise<KeyValue | null> {
    const pending = this.pending.get(key);
    if (pending !== undefined) return pending;
    const fetched = this.fetched.get(key);
    if (fetched !== undefined) return fetched;
    const [value] = await this.backend.get([key]);
    this.fetched.set(key, value ?? null);
    return value ?? null;
  }

  /** The keys in `span` now, in key order. */
  async range(span: KeySpan): Promise<KeyValue[]> {
    const merged = new Map<string, KeyValue>();
    for await (const kv of this.backend.range(span)) merged.set(kv.key, kv);
    for (const [key, kv] of this.pending) {
      if (!inRange(key, span)) continue;
      if (kv === null) merged.delete(key);
      else merged.set(key, kv);
    }
    return [...merged.values()].sort((a, b) => compareKeys(a.key, b.key));
  }
}

/** A delete event's kv (CONTRACT §5): the key and the delete's revision, nothing else. */
export function tombstone(key: string, revision: number): KeyValue {
  return { key, value: "", createRevision: 0, modRevision: revision, version: 0, lease: null };
}

/**
 * One command (not compact) at `revision`; `dry` (a replayed entry) computes the result only.
 * A put sets the lease it carries (none: detached, as etcd's put); cas and incr keep the key's.
 */
export class Executor {
  readonly events: KvEvent[] = [];

  constructor(
    private readonly view: BatchView,
    private readonly revision: number,
    private readonly dry: boolean,
  ) {}

  async run(command: Exclude<KvCommand, { op: "compact" }>): Promise<KvResult> {
    switch (command.op) {
      case "cas": {
        const prev = await this.view.get(command.key);
        if ((prev?.value ?? null) !== command.expect)
          return { op: "cas", succeeded: false, value: prev?.value ?? null };
        this.put(command.key, command.value, prev?.lease ?? null, prev);
        return { op: "cas", succeeded: true, value: command.value };
      }
      case "incr": {
        const prev = await this.view.get(command.key);
        const base = prev?.value ?? "0";
        const value = INTEGER.test(base) ? Number(BigInt(base) + BigInt(command.delta)) : NaN;
        if (!Number.isSafeInteger(value)) return { op: "incr", error: "not-integer", value: base };
        this.put(command.key, String(value), prev?.lease ?? null, prev);
        return { op: "incr", value };
      }
      case "txn": {
        const succeeded = await this.holds(command.compare);
        const results: KvResult[] = [];
        for (const op of succeeded ? command.success : command.failure)
          results.push(await this.op(op));
        return { op: "txn", succeeded, results };
      }
      default:
        return this.op(command);
    }
  }

  private async op(op: TxnOp): Promise<KvResult> {
    switch (op.op) {
      case "put": {
        const prev = await this.view.get(op.key);
        this.put(op.key, op.value, op.lease ?? null, prev);
        return op.prevKv ? { op: "put", prevKv: prev } : { op: "put" };
      }
      case "delete": {
        const prev = await this.view.get(op.key);
        if (prev !== null) this.delete(prev);
        const deleted = prev !== null;
        return op.prevKv
          ? { op: "delete", deleted, prevKvs: prev === null ? [] : [prev] }
          : { op: "delete", deleted };
      }
      case "deleteRange": {
        const prevKvs = await this.view.range(op.range);
        for (const prev of prevKvs) this.delete(prev);
        return op.prevKv
          ? { op: "deleteRange", deleted: prevKvs.length, prevKvs }
          : { op: "deleteRange", deleted: prevKvs.length };
      }
      case "get":
        return { op: "get", kv: await this.view.get(op.key) };
      case "scan":
        return { op: "scan", ...cutScan(await this.view.range(op.range), op) };
    }
  }

  private put(key: string, value: string, lease: string | null, prev: KeyValue | null): void {
    const kv: KeyValue = {
      key,
      value,
      createRevision: prev?.createRevision ?? this.revision,
      modRevision: this.revision,
      version: (prev?.version ?? 0) + 1,
      lease,
    };
    this.record({ type: "put", kv, prevKv: prev }, kv);
  }

  private delete(prev: KeyValue): void {
    this.record({ type: "delete", kv: tombstone(prev.key, this.revision), prevKv: prev }, null);
  }

  private record(event: KvEvent, next: KeyValue | null): void {
    if (this.dry) return;
    this.view.pending.set(event.kv.key, next);
    this.events.push(event);
  }

  private async holds(compares: readonly TxnCompare[]): Promise<boolean> {
    for (const compare of compares) {
      if (!compareHolds(compare, await this.view.get(compare.key))) return false;
    }
    return true;
  }
}

/** A scan's answer from the whole range: `limit` cuts it (more), `count` counts it all. */
export function cutScan(
  all: readonly KeyValue[],
  options: ScanOptions,
): { items: KeyValue[]; more: boolean; count: number } {
  const items = options.countOnly ? [] : all.slice(0, options.limit);
  return { items, more: all.length > options.limit, count: all.length };
}

/**
 * etcd's compare: an absent key has version, revisions 0 and lease none (its value compare
 * fails, as in etcd). Values compare in key (UTF-8 byte) order, leases as integers (none = 0).
 */
export function compareHolds(compare: TxnCompare, kv: KeyValue | null): boolean {
  let order: number;
  switch (compare.target) {
    case "value":
      if (kv === null || typeof compare.value !== "string") return false;
      order = compareKeys(kv.value, compare.value);
      break;
    case "lease": {
      const have = BigInt(kv?.lease ?? 0);
      const want = BigInt(compare.value ?? 0);
      order = have < want ? -1 : have > want ? 1 : 0;
      break;
    }
    default:
      order = (kv?.[compare.target] ?? 0) - Number(compare.value);
  }
  switch (compare.op) {
    case "==":
      return order === 0;
    case "!=":
      return order !== 0;
    case "<":
      return order < 0;
    case ">":
      return order > 0;
  }
}

/** The single keys a command reads (prefetched together). */
export function keysOf(command: KvCommand): string[] {
  switch (command.op) {
    case "txn":
      return [
        ...command.compare.map((c) => c.key),
        ...[...command.success, ...command.failure].flatMap((op) => ("key" in op ? [op.key] : [])),
      ];
    case "deleteRange":
    case "compact":
      return [];
    default:
      return [command.key];
  }
}
