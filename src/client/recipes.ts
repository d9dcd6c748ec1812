import type { Lease } from "./lease.js";

/**
 * etcd's two concurrency recipes (etcd client/v3/concurrency) on lease + txn: a mutex with a
 * fencing revision, and a leader election. Each participant puts `name/<lease id>` on its own
 * lease in a txn that creates it only if absent; the key's createRevision is its place in the
 * queue (and the lock's fencing revision: unique, since one entry creates one such key). A
 * participant holds the lock / leads once every key of `name/` created before its own is gone,
 * and waits meanwhile for its predecessor's key to vanish (polled; a dead participant's key
 * goes with its lease). Releasing deletes the key; a lost lease deletes it too.
 */

/** What the recipes need of the client. */
export interface RecipeClient {
  request(frame: Record<string, unknown>): Promise<Record<string, unknown>>;
  lease(ttl: number): Promise<Lease>;
}

export interface RecipeOptions {
  /** Ttl of the lease the recipe grants for itself, seconds (default 10). */
  readonly ttl?: number;
  /** How often a waiter looks at its predecessor, ms (default 100). */
  readonly pollMs?: number;
  /** Give up waiting (rejects; the queue key is deleted). */
  readonly signal?: AbortSignal;
}

interface QueueItem {
  readonly key: string;
  readonly value: string;
  readonly createRevision: number;
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

  /** Every key of the queue, oldest first. */
  async queue(): Promise<QueueItem[]> {
    const { items } = (await this.client.request({
      op: "scan",
      prefix: this.prefix,
    })) as unknown as { items: QueueItem[] };
    return [...items].sort((a, b) => a.createRevision - b.createRevision);
  }

  /** Resolves once no key created before ours is left; rejects if ours is gone (lease lost). */
  async waitForTurn(pollMs: number, signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const queue = await this.queue();
      if (!queue.some((item) => item.key === this.key)) throw new LostError(this.key);
      const before = queue.filter((item) => item.createRevision < this.revision);
      if (before.length === 0) return;
      // Wait for the nearest predecessor only (no herd when the head leaves).
      await this.waitGone(before.at(-1)!, pollMs, signal);
    }
  }

  private async waitGone(item: QueueItem, pollMs: number, signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const got = (await this.client.request({ op: "get", key: item.key })) as {
        found: boolean;
        createRevision: number;
      };
      if (!got.found || got.createRevision !== item.createRevision) return;
      if (!this.lease.alive) throw new LostError(this.key);
      await new Promise((resolve) => setTimeout(resolve, pollMs));
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
    await place.waitForTurn(options.pollMs ?? 100, options.signal);
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
      await place.waitForTurn(this.options.pollMs ?? 100, this.options.signal);
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
  async leader(): Promise<{ key: string; value: string; revision: number } | null> {
    const { items } = (await this.client.request({
      op: "scan",
      prefix: `${this.name}/`,
    })) as unknown as { items: QueueItem[] };
    const head = [...items].sort((a, b) => a.createRevision - b.createRevision)[0];
    return head ? { key: head.key, value: head.value, revision: head.createRevision } : null;
  }

  /**
   * The leader (or null) each time it or its value changes, until `signal` aborts. Polled
   * every pollMs: changes between two polls are seen as their last state.
   */
  async *observe(
    signal?: AbortSignal,
  ): AsyncGenerator<{ key: string; value: string; revision: number } | null> {
    let last: string | null = null;
    while (!signal?.aborted) {
      const leader = await this.leader();
      const seen = JSON.stringify(leader);
      if (seen !== last) {
        last = seen;
        yield leader;
      }
      await new Promise((resolve) => setTimeout(resolve, this.options.pollMs ?? 100));
    }
  }

  /** Step down (or stop campaigning): the key is deleted with its lease. */
  async resign(): Promise<void> {
    const place = this.place;
    this.place = null;
    await place?.leave();
  }
}
