import {
  type CompareTest,
  compareKeys,
  inRange,
  type KeySpan,
  type KvCommand,
  type KvResult,
  type KvTxn,
  type KvWrite,
  type ScanOptions,
  type TxnCompare,
  type TxnError,
  type TxnOp,
} from "./engine.js";
import type { KvBackend } from "./kv-backend.js";
import type { KeysOf } from "./kv-past.js";
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

/** Reads at a past revision, for a txn's get or scan that names one (CONTRACT §5, added). */
export interface PastReads {
  /** Reads below this revision are compacted (the bound in force before this entry). */
  readonly compactedRevision: number;
  /** The keys at `revision`, given the writes of the running command not yet in the view's batch. */
  at(revision: number, span: KeysOf, own: readonly KvEvent[]): Promise<KeyValue[]>;
}

/** A txn stopped by one of its ops: nothing it did stays (the executor rolls it back). */
class TxnAbort extends Error {
  constructor(readonly reason: TxnError) {
    super(reason.error);
  }
}

/** Which branch each txn of a nested txn takes, decided before any op runs (etcd's txnPath). */
interface TxnPath {
  readonly succeeded: boolean;
  /** The paths of the nested txns in the taken branch, in order. */
  readonly nested: readonly TxnPath[];
}

/**
 * One command (not compact) at `revision`; `dry` (a replayed entry) computes the result only.
 * A put sets the lease it carries (none: detached, as etcd's put); cas and incr keep the key's.
 */
export class Executor {
  readonly events: KvEvent[] = [];
  /** What each pending write replaced (undefined: the key was not pending), to roll back. */
  private readonly undo: [string, KeyValue | null | undefined][] = [];

  constructor(
    private readonly view: BatchView,
    private readonly revision: number,
    private readonly dry: boolean,
    private readonly past: PastReads,
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
      default:
        return this.atomically(command);
    }
  }

  /**
   * A txn or a single write, all or nothing. As etcd's applier: every compare of the txn and
   * of its nested txns is evaluated first, against the state before any op runs; then the ops
   * of the taken branches run in order, each seeing the writes before it.
   */
  private async atomically(command: KvWrite | KvTxn): Promise<KvResult> {
    const undoMark = this.undo.length;
    const eventMark = this.events.length;
    try {
      if (command.op !== "txn") return await this.op(command);
      return await this.apply(command, await this.path(command));
    } catch (error) {
      if (!(error instanceof TxnAbort)) throw error;
      for (const [key, before] of this.undo.splice(undoMark).reverse()) {
        if (before === undefined) this.view.pending.delete(key);
        else this.view.pending.set(key, before);
      }
      this.events.splice(eventMark);
      return { op: command.op === "txn" ? "txn" : "put", ...error.reason };
    }
  }

  private async path(txn: KvTxn): Promise<TxnPath> {
    const succeeded = await this.holds(txn.compare);
    const nested: TxnPath[] = [];
    for (const op of succeeded ? txn.success : txn.failure)
      if (op.op === "txn") nested.push(await this.path(op));
    return { succeeded, nested };
  }

  private async apply(txn: KvTxn, path: TxnPath): Promise<KvResult> {
    const results: KvResult[] = [];
    let k = 0;
    for (const op of path.succeeded ? txn.success : txn.failure)
      results.push(op.op === "txn" ? await this.apply(op, path.nested[k++]!) : await this.op(op));
    return { op: "txn", succeeded: path.succeeded, results };
  }

  private async op(op: Exclude<TxnOp, KvTxn>): Promise<KvResult> {
    switch (op.op) {
      case "put": {
        const prev = await this.view.get(op.key);
        const keeps = op.ignoreValue === true || op.ignoreLease === true;
        if (keeps && prev === null) throw new TxnAbort({ error: "key-not-found", key: op.key });
        const value = op.ignoreValue ? prev!.value : op.value;
        const lease = op.ignoreLease ? prev!.lease : (op.lease ?? null);
        this.put(op.key, value, lease, prev);
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
        if (op.revision === undefined) return { op: "get", kv: await this.view.get(op.key) };
        return { op: "get", kv: (await this.readAt(op.revision, { key: op.key }))[0] ?? null };
      case "scan": {
        const all =
          op.revision === undefined
            ? await this.view.range(op.range)
            : await this.readAt(op.revision, op.range);
        return { op: "scan", ...cutScan(all, op) };
      }
    }
  }

  /** As etcd's checkRequestRange: a revision past the state before this entry is in the future. */
  private async readAt(revision: number, span: KeysOf): Promise<KeyValue[]> {
    const currentRevision = this.revision - 1;
    if (revision > currentRevision)
      throw new TxnAbort({ error: "future", revision, currentRevision });
    const { compactedRevision } = this.past;
    if (revision < compactedRevision)
      throw new TxnAbort({ error: "compacted", revision, compactedRevision });
    return this.past.at(revision, span, this.events);
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
    const key = event.kv.key;
    this.undo.push([key, this.view.pending.get(key)]);
    this.view.pending.set(key, next);
    this.events.push(event);
  }

  /** etcd's applyCompares; over a range every key must hold, an empty range is one absent key. */
  private async holds(compares: readonly TxnCompare[]): Promise<boolean> {
    for (const compare of compares) {
      if ("key" in compare) {
        if (!compareHolds(compare, await this.view.get(compare.key))) return false;
        continue;
      }
      const kvs = await this.view.range(compare.range);
      if (kvs.length === 0 && !compareHolds(compare, null)) return false;
      if (!kvs.every((kv) => compareHolds(compare, kv))) return false;
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
export function compareHolds(compare: CompareTest, kv: KeyValue | null): boolean {
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
      return txnKeys(command);
    case "deleteRange":
    case "compact":
      return [];
    default:
      return [command.key];
  }
}

function txnKeys(txn: KvTxn): string[] {
  return [
    ...txn.compare.flatMap((c) => ("key" in c ? [c.key] : [])),
    ...[...txn.success, ...txn.failure].flatMap((op) =>
      op.op === "txn" ? txnKeys(op) : "key" in op ? [op.key] : [],
    ),
  ];
}
