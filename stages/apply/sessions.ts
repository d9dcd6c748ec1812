import type { KvItem } from "../../storage/engines/engine.js";
import type { ReplyBody } from "../items.js";
import { ErrorCode } from "../protocol.js";

/** Session records live in the KV engine under this reserved prefix (clients cannot use it). */
export const SESSION_PREFIX = "\u0000s:";

export interface SessionSettings {
  /** A session unused for this long (by the leader's clock stamped on entries) is forgotten. */
  readonly ttlMs: number;
  /** Answers kept per session: a retry older than the last `window` seqs cannot be answered. */
  readonly window: number;
  /** At most this many sessions; the least recently used go first. */
  readonly maxSessions: number;
  /** Expiry runs at every entry whose index is a multiple of this (the same point everywhere). */
  readonly expireEvery: number;
}

export const defaultSessionSettings: SessionSettings = {
  ttlMs: 60 * 60 * 1000,
  window: 256,
  maxSessions: 100_000,
  expireEvery: 1024,
};

interface SessionRecord {
  /** Leader timestamp of the last write through this session. */
  ts: number;
  /** [seq, answer], ascending seq, at most `window` of them. */
  results: [number, ReplyBody][];
}

export type SessionWrite = { readonly key: string; readonly value: string | null };

/**
 * The characters one session's kept answers may take together (a record is one JSON string,
 * and V8's strings end near 512 Mi characters); each answer gets its share of the window.
 */
const SESSION_RECORD_CHARS = 384 << 20;

/**
 * Exactly-once client sessions (Raft thesis §6.3). The table is part of the replicated state:
 * it changes only as log entries apply, in log order, and is written to the engine in the same
 * atomic batch as the writes it records, so it survives restarts and travels in snapshots.
 */
export class SessionTable {
  private readonly sessions = new Map<string, SessionRecord>();

  constructor(private readonly settings: SessionSettings = defaultSessionSettings) {}

  get size(): number {
    return this.sessions.size;
  }

  /** Rebuild from the engine's records (at start and after a snapshot is restored). */
  load(items: readonly KvItem[]): void {
    this.sessions.clear();
    for (const { key, value } of items) {
      if (!key.startsWith(SESSION_PREFIX)) continue;
      this.sessions.set(key.slice(SESSION_PREFIX.length), JSON.parse(value) as SessionRecord);
    }
  }

  /** The first answer to (id, seq); "evicted" if seq is older than the kept window; else null. */
  lookup(id: string, seq: number): ReplyBody | "evicted" | null {
    const record = this.sessions.get(id);
    if (record === undefined) return null;
    const found = record.results.find(([s]) => s === seq);
    if (found) return found[1];
    const oldest = record.results[0]?.[0];
    if (oldest !== undefined && seq < oldest && record.results.length >= this.settings.window)
      return "evicted";
    return null;
  }

  /**
   * Keep `answer` for retries of (id, seq). One larger than its share (a txn's reads, a range
   * delete's prevKvs) is kept as a BAD_REQUEST that says so: the write was applied once, and
   * a record too large to encode would stop every replica at this entry.
   */
  record(id: string, seq: number, answer: ReplyBody, ts: number): SessionWrite {
    const record = this.sessions.get(id) ?? { ts, results: [] };
    record.ts = Math.max(record.ts, ts);
    const share = Math.floor(SESSION_RECORD_CHARS / this.settings.window);
    record.results.push([seq, longerThan(answer, share) ? tooLarge(seq, share) : answer]);
    record.results.sort((a, b) => a[0] - b[0]);
    if (record.results.length > this.settings.window)
      record.results.splice(0, record.results.length - this.settings.window);
    this.sessions.set(id, record);
    return { key: SESSION_PREFIX + id, value: JSON.stringify(record) };
  }

  /** Forget sessions idle since before now - ttl, and the oldest beyond maxSessions. */
  expire(now: number): SessionWrite[] {
    const writes: SessionWrite[] = [];
    for (const [id, record] of this.sessions) {
      if (record.ts >= now - this.settings.ttlMs) continue;
      this.sessions.delete(id);
      writes.push({ key: SESSION_PREFIX + id, value: null });
    }
    if (this.sessions.size > this.settings.maxSessions) {
      const byAge = [...this.sessions].sort((a, b) => a[1].ts - b[1].ts || (a[0] < b[0] ? -1 : 1));
      for (const [id] of byAge.slice(0, this.sessions.size - this.settings.maxSessions)) {
        this.sessions.delete(id);
        writes.push({ key: SESSION_PREFIX + id, value: null });
      }
    }
    return writes;
  }

  shouldExpireAt(index: number): boolean {
    return index % this.settings.expireEvery === 0;
  }
}

function tooLarge(seq: number, share: number): ReplyBody {
  return {
    ok: false,
    error: {
      code: ErrorCode.badRequest,
      message: `seq ${seq} was applied; its answer (over ${share} characters) was too large to keep for a retry`,
    },
  };
}

/** Is `value`'s JSON longer than about `max` characters? Counting stops once it is. */
function longerThan(value: unknown, max: number): boolean {
  let size = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item === "string") size += item.length + 2;
    else if (Array.isArray(item)) {
      size += item.length + 2;
      for (const element of item) stack.push(element);
    } else if (item !== null && typeof item === "object") {
      for (const [key, field] of Object.entries(item)) {
        size += key.length + 4;
        stack.push(field);
      }
    } else size += 24;
    if (size > max) return true;
  }
  return false;
}
