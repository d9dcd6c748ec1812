import { StageraftError } from "./errors.js";
import type { Lease } from "./lease.js";
import type { WatchEvent, WatchOptions } from "./watch.js";

/**
 * etcd's two concurrency recipes (etcd client/v3/concurrency) on lease + txn + watch: a mutex
 * with a fencing revision, and a leader election. Each participant puts `name/<lease id>` on
 * its own lease in a txn that creates it only if absent; the key's createRevision is its place
 * in the queue (and the lock's fencing revision: unique, since one entry creates one such key).
 * A participant holds the lock / leads once every key of `name/` created before its own is
 * gone, and meanwhile watches for its nearest predecessor's delete (from the revision of the
 * read that found it, so a delete in between is not missed; a dead participant's key goes with
 * its lease). Releasing deletes the key; a lost lease deletes it too.
 */

/** A watch as the recipes use it: events in revision order until closed. */
export interface RecipeWatch extends AsyncIterable<WatchEvent> {
  close(): void;
}

/** What the recipes need of the client. */
export interface RecipeClient {
  request(frame: Record<string, unknown>): Promise<Record<string, unknown>>;
  lease(ttl: number): Promise<Lease>;
  watch(options: WatchOptions): RecipeWatch;
}

export interface RecipeOptions {
  /** Ttl of the lease the recipe grants for itself, seconds (default 10). */
  readonly ttl?: number;
  /** Give up waiting (rejects; the queue key is deleted). */
  readonly signal?: AbortSignal;
}

interface QueueItem {
  readonly key: string;
  readonly value: string;
  readonly createRevision: number;
}

/**
 * The queue under `prefix`, oldest first, and the revision it was read at. A scan stops at
 * the node's limit (`more`): the rest is read page by page at the first page's revision, else
 * a key past the first page (keys sort by lease id as text, not by age) would go unseen and
 * two participants could both lead.
 */
async function readQueue(
  client: RecipeClient,
  prefix: string,
): Promise<{ items: QueueItem[]; revision: number }> {
  const items: QueueItem[] = [];
  let revision: number | undefined;
  for (let start: string | undefined; ; ) {
    const page = (await client.request({
      op: "scan",
      prefix,
      ...(start !== undefined ? { start } : {}),
      ...(revision !== undefined ? { revision } : {}),
    })) as unknown as { items: QueueItem[]; more?: boolean; revision: number };
    revision ??= page.revision;
    items.push(...page.items);
    if (!page.more || page.items.length === 0) break;
    start = `${page.items.at(-1)!.key}\u0000`;
  }
  return { items: items.sort((a, b) => a.createRevision - b.createRevision), revision };
}

/**
 * The first event of `watch` that `accept` takes, or null when the watch ended (aborted, or
 * its start fell out of the kept history: the caller reads the state again).
 */
async function firstEvent(
  client: RecipeClient,
  watch: WatchOptions,
  accept: (event: WatchEvent) => boolean,
  signal?: AbortSignal,
): Promise<WatchEvent | null> {
  const stream = client.watch(watch);
  const stop = () => stream.close();
  signal?.addEventListener("abort", stop, { once: true });
  try {
    if (signal?.aborted) return null;
    for await (const event of stream) if (accept(event)) return event;
    return null;
  } catch (error) {
    if (error instanceof StageraftError && error.code === "COMPACTED") return null;
    throw error;
  } finally {
    signal?.removeEventListener("abort", stop);
    stream.close();
  }
}

/** A place in `name/`'s queue, on its own lease. */
class QueuePlace {
  private constructor(
    private readonly client: RecipeClient,
    readonly prefix: string,
    readonly lease: Lease,
    readonly key: string,
    /** The key's createRevision: the fencing revision once it leads. */
    readonly revision: number,
  ) {}

  /** Take a place: put `prefix<lease id>` = value, only if absent (a retried txn finds it). */
  static async join(
    client: RecipeClient,
    name: string,
    value: string,
    ttl: number,
  ): Promise<QueuePlace> {
    const prefix = `${name}/`;
    const lease = await client.lease(ttl);
    const key = prefix + lease.id;
    try {
      const answer = (await client.request({
        op: "txn",
        compare: [{ key, target: "createRevision", op: "==", value: 0 }],
        success: [{ op: "put", key, value, lease: lease.id }],
        failure: [{ op: "get", key }],
      })) as { succeeded: boolean; revision: number; results: { createRevision?: number }[] };
      const revision = answer.succeeded ? answer.revision : answer.results[0]!.createRevision!;
      return new QueuePlace(client, prefix, lease, key, revision);
    } catch (error) {
      await lease.revoke().catch(() => {});
      throw error;
    }
  }

  /** Resolves once no key created before ours is left; rejects if ours is gone (lease lost). */
  async waitForTurn(signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const { items, revision } = await readQueue(this.client, this.prefix);
      if (!items.some((item) => item.key === this.key)) throw new LostError(this.key);
      const before = items.filter((item) => item.createRevision < this.revision);
      if (before.length === 0) return;
      // Wait for the nearest predecessor only (no herd when the head leaves), or for our own
      // key to go (lease lost). Deletes only, from just after the read: none is missed.
      const watched = new Set([before.at(-1)!.key, this.key]);
      await firstEvent(
        this.client,
        { prefix: this.prefix, startRevision: revision + 1, noPut: true },
        (event) => watched.has(event.kv.key),
        signal,
      );
    }
  }

  /** Put a new value on our key if it is still ours (same generation). */
  async proclaim(value: string): Promise<boolean> {
    const answer = (await this.client.request({
      op: "txn",
      compare: [{ key: this.key, target: "createRevision", op: "==", value: this.revision }],
      success: [{ op: "put", key: this.key, value, lease: this.lease.id }],
      failure: [],
    })) as { succeeded: boolean };
    return answer.succeeded;
  }

  /** Leave: the lease is revoked, which deletes the key. */
  async leave(): Promise<void> {
    await this.lease.revoke();
  }
}

/** The participant's key vanished (its lease expired or was revoked) while it waited or held. */
export class LostError extends Error {
  override readonly name = "LostError";
  constructor(readonly key: string) {
    super(`${key} is gone: its lease expired or was revoked`);
  }
}

/** A held lock. `revision` is its fencing revision: pass it to what the lock protects. */
export interface Lock {
  readonly key: string;
  readonly revision: number;
  readonly lease: Lease;
  unlock(): Promise<void>;
}

/** Wait for the mutex `name`; resolves once held. */
export async function lock(
  client: RecipeClient,
  name: string,
  options: RecipeOptions = {},
): Promise<Lock> {
  const place = await QueuePlace.join(client, name, "", options.ttl ?? 10);
  try {
    await place.waitForTurn(options.signal);
  } catch (error) {
    await place.leave().catch(() => {});
    throw error;
  }
  return {
    key: place.key,
    revision: place.revision,
    lease: place.lease,
    unlock: () => place.leave(),
  };
}

export interface Leader {
  readonly key: string;
  readonly value: string;
  readonly revision: number;
}

function head(queue: readonly QueueItem[]): Leader | null {
  const first = queue[0];
  return first ? { key: first.key, value: first.value, revision: first.createRevision } : null;
}

/** A leader election under `name` (etcd's concurrency.Election). */
export class Election {
  private place: QueuePlace | null = null;

  constructor(
    private readonly client: RecipeClient,
    readonly name: string,
    private readonly options: RecipeOptions = {},
  ) {}

  /** Campaign with `value`; resolves once this participant leads. */
  async campaign(value: string): Promise<{ key: string; revision: number }> {
    if (this.place !== null) throw new Error("already campaigning; resign first");
    const place = await QueuePlace.join(this.client, this.name, value, this.options.ttl ?? 10);
    this.place = place;
    try {
      await place.waitForTurn(this.options.signal);
    } catch (error) {
      this.place = null;
      await place.leave().catch(() => {});
      throw error;
    }
    return { key: place.key, revision: place.revision };
  }

  /** Change the leader's value; false when this participant no longer leads. */
  async proclaim(value: string): Promise<boolean> {
    if (this.place === null) return false;
    return this.place.proclaim(value);
  }

  /** The current leader: the oldest key under `name/` (null when nobody campaigns). */
  async leader(): Promise<Leader | null> {
    return head((await readQueue(this.client, `${this.name}/`)).items);
  }

  /**
   * The leader (or null) now, then each time it or its value changes, until `signal` aborts.
   * One read, then a watch of `name/` from the revision after it: every change is seen, in
   * order, however quickly changes follow each other.
   */
  async *observe(signal?: AbortSignal): AsyncGenerator<Leader | null> {
    const prefix = `${this.name}/`;
    const { items, revision } = await readQueue(this.client, prefix);
    const queue = new Map(items.map((item) => [item.key, item]));
    let last = head(items);
    yield last;
    const stream = this.client.watch({ prefix, startRevision: revision + 1 });
    const stop = () => stream.close();
    signal?.addEventListener("abort", stop, { once: true });
    try {
      if (signal?.aborted) return;
      for await (const { type, kv } of stream) {
        if (signal?.aborted) return; // events queued before the abort are not wanted
        if (type === "delete") queue.delete(kv.key);
        else queue.set(kv.key, { key: kv.key, value: kv.value, createRevision: kv.createRevision });
        const now = head([...queue.values()].sort((a, b) => a.createRevision - b.createRevision));
        if (JSON.stringify(now) === JSON.stringify(last)) continue;
        last = now;
        yield now;
      }
    } finally {
      signal?.removeEventListener("abort", stop);
      stream.close();
    }
  }

  /** Step down (or stop campaigning): the key is deleted with its lease. */
  async resign(): Promise<void> {
    const place = this.place;
    this.place = null;
    await place?.leave();
  }
}
