import type { KeyValue } from "./revisions.js";

/** What an entry is assumed to cost beyond its key and value characters. */
const ENTRY_OVERHEAD = 96;

/**
 * The LevelDB engine's current keys, as last written or read (null: known absent), so that
 * a put does not read its key back from LevelDB for its version, createRevision and prevKv
 * (etcd keeps its keyIndex in memory for the same reason). Write-through: every write of the
 * engine passes here, so an entry is never stale. Bounded by `maxBytes` (UTF-16 characters
 * plus an overhead per entry); the oldest-inserted entries go first.
 */
export class KeyCache {
  private readonly entries = new Map<string, KeyValue | null>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** The cached state of `key`: a KeyValue, null (absent), or undefined (not cached). */
  get(key: string): KeyValue | null | undefined {
    return this.entries.get(key);
  }

  set(key: string, kv: KeyValue | null): void {
    if (this.maxBytes <= 0) return;
    this.forget(key);
    this.entries.set(key, kv);
    this.bytes += cost(key, kv);
    for (const [oldest, old] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= cost(oldest, old);
    }
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  private forget(key: string): void {
    const old = this.entries.get(key);
    if (old === undefined) return;
    this.entries.delete(key);
    this.bytes -= cost(key, old);
  }
}

function cost(key: string, kv: KeyValue | null): number {
  return (
    ENTRY_OVERHEAD + key.length * 2 + (kv === null ? 0 : kv.value.length + (kv.lease?.length ?? 0))
  );
}
