import { describe, expect, test } from "vitest";
import { Lease, LeaseApi } from "../../src/client/lease.js";
import { Election, lock, type RecipeWatch } from "../../src/client/recipes.js";
import type { WatchEvent, WatchOptions } from "../../src/client/watch.js";

/**
 * The lock and election recipes (src/client/recipes.ts) over a fake server whose scans stop
 * at `pageLimit` keys (as a node's stop at maxScanLimit), with `more`.
 */
class FakeServer {
  readonly keys = new Map<string, { value: string; createRevision: number; lease: string }>();
  revision = 8; // Lease ids 9, 10, 11…: key order ("m/10" < "m/9") is not creation order.
  /** Open watches: each gets the delete events under its prefix. */
  readonly watchers = new Set<{ prefix: string; push: (event: WatchEvent) => void }>();
  /** Called when a watch opens (the recipes wait by watch). */
  onWatch: (options: WatchOptions) => void = () => {};

  constructor(private readonly pageLimit: number) {}

  async request(frame: Record<string, unknown>): Promise<Record<string, unknown>> {
    switch (frame.op) {
      case "lease-grant":
        return { lease: String(++this.revision), ttl: frame.ttl };
      case "lease-keepalive":
        return { ttl: 10 };
      case "lease-revoke": {
        const revision = ++this.revision;
        for (const [key, kv] of this.keys) {
          if (kv.lease !== frame.lease) continue;
          this.keys.delete(key);
          for (const watcher of this.watchers) {
            if (!key.startsWith(watcher.prefix)) continue;
            const gone = { key, value: "", createRevision: 0, modRevision: revision, version: 0 };
            watcher.push({ type: "delete", kv: { ...gone, lease: null } });
          }
        }
        return { revoked: true, revision };
      }
      case "txn": {
        const put = (frame.success as { key: string; value: string; lease: string }[])[0]!;
        if (this.keys.has(put.key)) throw new Error("the fake creates keys once");
        const revision = ++this.revision;
        this.keys.set(put.key, { value: put.value, createRevision: revision, lease: put.lease });
        return { succeeded: true, revision, results: [{}] };
      }
      case "scan": {
        const prefix = frame.prefix as string;
        const start = (frame.start as string | undefined) ?? "";
        const all = [...this.keys.keys()]
          .filter((key) => key.startsWith(prefix) && key >= start)
          .sort()
          .map((key) => ({ key, ...this.keys.get(key)! }));
        return {
          items: all.slice(0, this.pageLimit),
          more: all.length > this.pageLimit,
          revision: this.revision,
        };
      }
      default:
        throw new Error(`the fake does not serve ${String(frame.op)}`);
    }
  }

  watch(options: WatchOptions): RecipeWatch {
    const queued: WatchEvent[] = [];
    let wake: (() => void) | null = null;
    let closed = false;
    const watcher = {
      prefix: (options as { prefix: string }).prefix,
      push: (event: WatchEvent) => {
        queued.push(event);
        wake?.();
      },
    };
    this.watchers.add(watcher);
    this.onWatch(options);
    const watchers = this.watchers;
    return {
      close: () => {
        closed = true;
        watchers.delete(watcher);
        wake?.();
      },
      async *[Symbol.asyncIterator]() {
        while (!closed) {
          const event = queued.shift();
          if (event !== undefined) yield event;
          else await new Promise<void>((resolve) => (wake = resolve));
        }
      },
    };
  }

  lease(ttl: number): Promise<Lease> {
    return Lease.grant(new LeaseApi(this), ttl, { keepAliveEveryMs: 60_000 });
  }
}

describe("recipes", () => {
  test("lock: a queue longer than one scan page never admits two holders", async () => {
    const server = new FakeServer(1);
    const first = await lock(server, "m");
    expect(first.key).toBe("m/9");
    // The next key, "m/11", sorts before "m/9": its predecessor is past the first page.
    let secondHeld = false;
    const waited = new Promise<void>((resolve) => {
      server.onWatch = () => resolve();
    });
    const second = lock(server, "m").then((held) => {
      secondHeld = true;
      return held;
    });
    await Promise.race([waited, second]);
    expect(secondHeld).toBe(false);
    await first.unlock();
    const held = await second;
    expect(held.revision).toBeGreaterThan(first.revision);
    await held.unlock();
  });

  test("election: the leader is the oldest key, also past the first scan page", async () => {
    const server = new FakeServer(1);
    const a = new Election(server, "e");
    await a.campaign("a");
    const keys = [...server.keys.keys()];
    expect(keys).toEqual(["e/9"]);
    // Another campaign whose key sorts first ("e/11" < "e/9").
    server.revision = 10;
    await server.request({ op: "txn", success: [{ key: "e/11", value: "b", lease: "11" }] });
    expect(await a.leader()).toMatchObject({ key: "e/9", value: "a" });
    await a.resign();
  });
});
