import type { KvItem } from "../../storage/engines/engine.js";
import type { KvChanges } from "../../storage/engines/revisions.js";
import { type LeaseJudge, type LeaseRecord, leaseDeadline } from "./lease-commands.js";

/**
 * Lease records live in the KV engine under this reserved prefix, as the session table does
 * (clients cannot write keys starting with U+0000, and scans start after them).
 * `LEASE_PREFIX + "r:" + id` holds a LeaseRecord; `LEASE_PREFIX + "k:" + key` the id of the
 * lease a key is attached to (one small record per key: attaching never rewrites a big list).
 */
export const LEASE_PREFIX = "\u0000l:";
const RECORD = `${LEASE_PREFIX}r:`;
const ATTACHED = `${LEASE_PREFIX}k:`;

export type LeaseWrite = { readonly key: string; readonly value: string | null };

/** At most this many ids in one expire entry (and one due() answer). */
export const EXPIRE_BATCH_MAX = 1000;

interface Lease extends LeaseRecord {
  readonly keys: Set<string>;
}

/**
 * The replicated lease table: id → ttl, last renewal (leader clock and term), attached keys.
 * It changes only as entries apply, in log order; each change returns the raw writes that
 * land with the entry in the engine's batch, so it survives restarts and travels in
 * snapshots. The key → lease index is rebuilt at load.
 */
export class LeaseTable {
  private readonly leases = new Map<string, Lease>();
  private readonly keyLease = new Map<string, string>();

  get size(): number {
    return this.leases.size;
  }

  /** Rebuild from the engine's records (at start and after a snapshot is restored). */
  load(items: readonly KvItem[]): void {
    this.leases.clear();
    this.keyLease.clear();
    for (const { key, value } of items) {
      if (!key.startsWith(RECORD)) continue;
      const record = JSON.parse(value) as LeaseRecord;
      this.leases.set(key.slice(RECORD.length), { ...record, keys: new Set() });
    }
    for (const { key, value: id } of items) {
      if (!key.startsWith(ATTACHED)) continue;
      const lease = this.leases.get(id);
      // Written in the same batch as the lease's removal: a dangling one is a broken invariant.
      if (lease === undefined) throw new Error(`key attached to unknown lease ${id}`);
      const name = key.slice(ATTACHED.length);
      lease.keys.add(name);
      this.keyLease.set(name, id);
    }
  }

  has(id: string): boolean {
    return this.leases.has(id);
  }

  get(id: string): { readonly record: LeaseRecord; readonly keys: readonly string[] } | null {
    const lease = this.leases.get(id);
    if (lease === undefined) return null;
    const { keys, ...record } = lease;
    return { record, keys: [...keys].sort() };
  }

  /** The lease's granted ttl (seconds), or null: no such lease. */
  grantedTtl(id: string): number | null {
    return this.leases.get(id)?.ttl ?? null;
  }

  /** Every lease id, ascending as numbers. */
  ids(): string[] {
    return [...this.leases.keys()].sort(compareIds);
  }

  grant(id: string, ttl: number, ts: number, term: number): LeaseWrite[] {
    if (this.leases.has(id)) throw new Error(`lease ${id} granted twice`);
    const record: LeaseRecord = { ttl, renewTs: ts, renewTerm: term };
    this.leases.set(id, { ...record, keys: new Set() });
    return [{ key: RECORD + id, value: JSON.stringify(record) }];
  }

  /** A keep-alive: the lease's clock restarts at `ts`. Null: no such lease. */
  renew(id: string, ts: number, term: number): LeaseWrite[] | null {
    const lease = this.leases.get(id);
    if (lease === undefined) return null;
    const record: LeaseRecord = { ttl: lease.ttl, renewTs: ts, renewTerm: term };
    this.leases.set(id, { ...record, keys: lease.keys });
    return [{ key: RECORD + id, value: JSON.stringify(record) }];
  }

  /** Remove the lease; the caller deletes `keys` in the same entry. Null: no such lease. */
  revoke(id: string): { keys: string[]; writes: LeaseWrite[] } | null {
    const lease = this.leases.get(id);
    if (lease === undefined) return null;
    this.leases.delete(id);
    const keys = [...lease.keys].sort();
    const writes: LeaseWrite[] = [{ key: RECORD + id, value: null }];
    for (const key of keys) {
      this.keyLease.delete(key);
      writes.push({ key: ATTACHED + key, value: null });
    }
    return { keys, writes };
  }

  /**
   * `key` now belongs to lease `id` (null: to none — a put without lease, or a delete).
   * The caller has checked that the lease exists.
   */
  attach(key: string, id: string | null): LeaseWrite[] {
    const before = this.keyLease.get(key) ?? null;
    if (before === id) return [];
    if (before !== null) this.leases.get(before)?.keys.delete(key);
    if (id === null) {
      this.keyLease.delete(key);
      return [{ key: ATTACHED + key, value: null }];
    }
    const lease = this.leases.get(id);
    if (lease === undefined) throw new Error(`attach to unknown lease ${id}`);
    lease.keys.add(key);
    this.keyLease.set(key, id);
    return [{ key: ATTACHED + key, value: id }];
  }

  /**
   * Keys follow the applied changes: a put attaches its key to the lease it carries (none:
   * detached, etcd's rule; cas and incr carry the key's lease on), a delete detaches it.
   */
  follow(changes: readonly KvChanges[]): LeaseWrite[] {
    const writes: LeaseWrite[] = [];
    for (const { events } of changes)
      for (const { type, kv } of events)
        writes.push(...this.attach(kv.key, type === "put" ? kv.lease : null));
    return writes;
  }

  /** The lease `key` is attached to, or null. */
  leaseOf(key: string): string | null {
    return this.keyLease.get(key) ?? null;
  }

  /** Is the lease past its deadline, judged by the leader at `judge.now`? */
  isExpired(id: string, judge: LeaseJudge): boolean {
    const lease = this.leases.get(id);
    return lease !== undefined && deadline(lease, judge) <= judge.now;
  }

  /** Leases past their deadline as the leader judges now, at most `max`, oldest first. */
  due(judge: LeaseJudge, max = EXPIRE_BATCH_MAX): string[] {
    const due: [number, string][] = [];
    for (const [id, lease] of this.leases) {
      const at = deadline(lease, judge);
      if (at <= judge.now) due.push([at, id]);
    }
    due.sort((a, b) => a[0] - b[0] || compareIds(a[1], b[1]));
    return due.slice(0, max).map(([, id]) => id);
  }

  /** Seconds left on this node's clock (no new-leader extension counted), at least 0. */
  remainingSeconds(id: string, now: number): number | null {
    const lease = this.leases.get(id);
    if (lease === undefined) return null;
    return Math.max(0, Math.ceil((lease.renewTs + lease.ttl * 1000 - now) / 1000));
  }
}

function deadline(record: LeaseRecord, judge: LeaseJudge): number {
  return leaseDeadline(record, judge.term, judge.extendMs, judge.termStart);
}

function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}
