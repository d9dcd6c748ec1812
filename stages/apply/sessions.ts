import type { KvItem } from "../../storage/engines/engine.js";
import type { ReplyBody } from "../items.js";
import { ErrorCode } from "../protocol.js";

/**
 * Session records live in the KV engine under reserved prefixes (clients cannot use them):
 * `SESSION_PREFIX + id` holds the session's `{ts}`, `SESSION_ANSWER_PREFIX + id + U+0000 +
 * seq` one kept answer — so a write through a session writes its own answer and a small
 * record, whatever the session holds. The previous version kept the whole session in the
 * first record (`{ts, results}`); such records still load (data dirs, snapshots) and move to
 * this form at the session's next write.
 */
export const SESSION_PREFIX = "\u0000s:";
export const SESSION_ANSWER_PREFIX = "\u0000sa:";
/** What load() needs: every key under these (SESSION_PREFIX alone does not cover the answers). */
export const SESSION_PREFIXES = [SESSION_PREFIX, SESSION_ANSWER_PREFIX] as const;

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
  /** Its answers are still in the previous version's whole-session record. */
  whole?: true;
}

export type SessionWrite = { readonly key: string; readonly value: string | null };

/**
 * The characters one kept answer may take: each answer gets its share of this (the bound of
 * what a session holds in memory, and of a V8 string, which ends near 512 Mi characters).
 */
const SESSION_RECORD_CHARS = 384 << 20;

/** An answer's key: the seq after the id's last U+0000 (a seq has none), so any id works. */
function answerKey(id: string, seq: number): string {
  return `${SESSION_ANSWER_PREFIX}${id}\u0000${seq}`;
}

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

  /** Rebuild from the engine's records under SESSION_PREFIXES (at start, after a restore). */
  load(items: readonly KvItem[]): void {
    this.sessions.clear();
    for (const { key, value } of items) {
      if (!key.startsWith(SESSION_PREFIX)) continue;
      const stored = JSON.parse(value) as { ts: number; results?: [number, ReplyBody][] };
      const record: SessionRecord = { ts: stored.ts, results: stored.results ?? [] };
      if (stored.results !== undefined) record.whole = true;
      this.sessions.set(key.slice(SESSION_PREFIX.length), record);
    }
    for (const { key, value } of items) {
      if (!key.startsWith(SESSION_ANSWER_PREFIX)) continue;
      const cut = key.lastIndexOf("\u0000");
      const id = key.slice(SESSION_ANSWER_PREFIX.length, cut);
      const record = this.sessions.get(id);
      // Written in the same batch as the session's record: a stray one is a broken invariant.
      if (record === undefined) throw new Error(`session answer without its session: ${id}`);
      record.results.push([Number(key.slice(cut + 1)), JSON.parse(value) as ReplyBody]);
    }
    for (const record of this.sessions.values()) record.results.sort((a, b) => a[0] - b[0]);
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
   * Keep `answer` for retries of (id, seq): its own record, the session's `{ts}`, and the
   * delete of the answer it evicts. One larger than its share (a txn's reads, a range
   * delete's prevKvs) is kept as a BAD_REQUEST that says so: the write was applied once, and
   * a record too large to encode would stop every replica at this entry.
   */
  record(id: string, seq: number, answer: ReplyBody, ts: number): SessionWrite[] {
    const record = this.sessions.get(id) ?? { ts, results: [] };
    record.ts = Math.max(record.ts, ts);
    const share = Math.floor(SESSION_RECORD_CHARS / this.settings.window);
    const kept = longerThan(answer, share) ? tooLarge(seq, share) : answer;
    const last = record.results.at(-1);
    record.results.push([seq, kept]);
    if (last !== undefined && last[0] > seq) record.results.sort((a, b) => a[0] - b[0]);
    const evicted =
      record.results.length > this.settings.window
        ? record.results.splice(0, record.results.length - this.settings.window)
        : [];
    this.sessions.set(id, record);
    const writes: SessionWrite[] = [
      { key: SESSION_PREFIX + id, value: JSON.stringify({ ts: record.ts }) },
    ];
    if (record.whole) {
      // Its answers move out of the previous version's record, which this write replaces.
      delete record.whole;
      for (const [s, stored] of record.results)
        writes.push({ key: answerKey(id, s), value: JSON.stringify(stored) });
      return writes;
    }
    // Evicted before it was kept (a seq older than the window): nothing was written for it.
    if (!evicted.some(([s]) => s === seq))
      writes.push({ key: answerKey(id, seq), value: JSON.stringify(kept) });
    for (const [s] of evicted) if (s !== seq) writes.push({ key: answerKey(id, s), value: null });
    return writes;
  }

  /** Forget sessions idle since before now - ttl, and the oldest beyond maxSessions. */
  expire(now: number): SessionWrite[] {
    const writes: SessionWrite[] = [];
    for (const [id, record] of this.sessions) {
      if (record.ts >= now - this.settings.ttlMs) continue;
      writes.push(...this.forget(id, record));
    }
    if (this.sessions.size > this.settings.maxSessions) {
      const byAge = [...this.sessions].sort((a, b) => a[1].ts - b[1].ts || (a[0] < b[0] ? -1 : 1));
      for (const [id, record] of byAge.slice(0, this.sessions.size - this.settings.maxSessions))
        writes.push(...this.forget(id, record));
    }
    return writes;
  }

  shouldExpireAt(index: number): boolean {
    return isSessionExpiryPoint(this.settings, index);
  }

  private forget(id: string, record: SessionRecord): SessionWrite[] {
    this.sessions.delete(id);
    const writes: SessionWrite[] = [{ key: SESSION_PREFIX + id, value: null }];
    if (!record.whole)
      for (const [seq] of record.results) writes.push({ key: answerKey(id, seq), value: null });
    return writes;
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

/**
 * Entries whose index is a multiple of `expireEvery` expire idle sessions (the same indexes on
 * every replica); the apply stage ends a batch there, inline or in a worker.
 */
export function isSessionExpiryPoint(
  settings: Pick<SessionSettings, "expireEvery">,
  index: number,
): boolean {
  return index % settings.expireEvery === 0;
}
