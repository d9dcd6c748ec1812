/**
 * The two systems behind the API phases (api.ts): stageraft through its client library (one
 * WebSocket per connection; watches: each its own socket through db.watch, or all on one
 * socket, see MuxWatches), etcd through the etcd3 npm client
 * (gRPC over HTTP/2: one channel per connection; every watcher multiplexed on one watch stream,
 * keep-alives pipelined on one LeaseKeepAlive stream per connection, as etcd's own clients do).
 */
import { Etcd3 } from "etcd3";
import WebSocket from "ws";
import { connect, type StageraftClient } from "../../src/mod.js";

/** Told of each event a watcher receives: its revision (the kv's modRevision). */
export type EventSink = (revision: number) => void;

export interface ApiTarget {
  /** Put; resolves with the revision of the write. */
  put(key: string, value: string): Promise<number>;
  /** If `key` exists, put `key` and `other` atomically; resolves with whether it did. */
  txnPutBoth(key: string, other: string, value: string): Promise<boolean>;
  grant(ttlSeconds: number): Promise<string>;
  /** One keep-alive; resolves with the ttl the lease now has. */
  keepAlive(lease: string): Promise<number>;
  /** A watch on `prefix` from `startRevision`; resolves with its cancel once created. */
  watch(prefix: string, startRevision: number, sink: EventSink): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export class StageraftApiTarget implements ApiTarget {
  private readonly client: StageraftClient;
  private mux: MuxWatches | null = null;

  constructor(
    private readonly endpoint: string,
    requestTimeoutMs: number,
    /** Every watch on one socket (as etcd3 puts every watcher on one stream), not db.watch. */
    private readonly shareSocket = false,
  ) {
    // One attempt: a refused request is counted, not hidden behind a retry.
    this.client = connect([endpoint], { requestTimeoutMs, maxAttempts: 1 });
  }

  async put(key: string, value: string): Promise<number> {
    return (await this.client.put(key, value)).revision;
  }

  async txnPutBoth(key: string, other: string, value: string): Promise<boolean> {
    const result = await this.client.txn({
      compare: [{ key, target: "createRevision", op: ">", value: 0 }],
      success: [
        { op: "put", key, value },
        { op: "put", key: other, value },
      ],
      failure: [{ op: "get", key }],
    });
    return result.succeeded;
  }

  async grant(ttlSeconds: number): Promise<string> {
    return (await this.client.leases.grant(ttlSeconds)).lease;
  }

  async keepAlive(lease: string): Promise<number> {
    return (await this.client.leases.keepAlive(lease)).ttl;
  }

  async watch(prefix: string, startRevision: number, sink: EventSink) {
    if (this.shareSocket) {
      this.mux ??= new MuxWatches(this.endpoint);
      return this.mux.watch(prefix, startRevision, sink);
    }
    const stream = this.client.watch({ prefix, startRevision });
    const loop = (async () => {
      for await (const event of stream) sink(event.kv.modRevision);
    })();
    return async () => {
      stream.close();
      await loop.catch(() => {});
    };
  }

  async close(): Promise<void> {
    this.mux?.close();
    this.client.close();
  }
}

interface MuxWatch {
  readonly prefix: string;
  readonly sink: EventSink;
  /** The next revision it should get (a resume starts there). */
  next: number;
  created: (() => void) | null;
}

/**
 * Many watches on one stageraft connection, on the wire (CONTRACT §5 `watch`): what db.watch
 * does per socket, multiplexed. A watch the server cancels for reading too slowly is created
 * again from its next revision, as db.watch would; the events are checked by the phase.
 */
class MuxWatches {
  private readonly socket: WebSocket;
  private readonly opened: Promise<void>;
  private nextId = 1;
  /** By request id until created, then by watch id. */
  private readonly pending = new Map<number, MuxWatch>();
  private readonly live = new Map<number, MuxWatch>();

  constructor(endpoint: string) {
    this.socket = new WebSocket(`ws://${endpoint}/v1`);
    this.opened = new Promise((resolve, reject) => {
      this.socket.once("open", () => resolve());
      this.socket.once("error", reject);
    });
    this.socket.on("message", (data) => this.frame(JSON.parse(String(data))));
  }

  async watch(prefix: string, startRevision: number, sink: EventSink) {
    await this.opened;
    const watch: MuxWatch = { prefix, sink, next: startRevision, created: null };
    await new Promise<void>((resolve) => {
      watch.created = resolve;
      this.create(watch);
    });
    return async () => {
      for (const [id, candidate] of this.live)
        if (candidate === watch) {
          this.live.delete(id);
          this.socket.send(JSON.stringify({ id: this.nextId++, op: "cancel-watch", watch: id }));
        }
    };
  }

  private create(watch: MuxWatch): void {
    const id = this.nextId++;
    this.pending.set(id, watch);
    const { prefix, next } = watch;
    this.socket.send(JSON.stringify({ id, op: "watch", prefix, startRevision: next }));
  }

  private frame(frame: Record<string, unknown>): void {
    if (typeof frame.id === "number") {
      const watch = this.pending.get(frame.id);
      if (watch === undefined) return; // a cancel-watch answer
      this.pending.delete(frame.id);
      if (frame.ok !== true) throw new Error(`watch refused: ${JSON.stringify(frame.error)}`);
      this.live.set(frame.watch as number, watch);
      watch.created?.();
      watch.created = null;
      return;
    }
    const watch = this.live.get(frame.watch as number);
    if (watch === undefined) return;
    if (frame.canceled === true) {
      this.live.delete(frame.watch as number);
      this.create(watch);
      return;
    }
    for (const event of (frame.events ?? []) as { kv: { modRevision: number } }[]) {
      // Passed on as they come, doubles too: the phase checks what the server sent.
      const revision = event.kv.modRevision;
      watch.sink(revision);
      watch.next = Math.max(watch.next, revision + 1);
    }
  }

  close(): void {
    this.socket.terminate();
  }
}

type KeepAliveStream = Awaited<ReturnType<Etcd3["leaseClient"]["leaseKeepAlive"]>>;

export class EtcdApiTarget implements ApiTarget {
  private readonly client: Etcd3;
  private keepAliveStream: Promise<KeepAliveStream> | null = null;
  /** Keep-alives sent on the stream, answered in order. */
  private readonly pending: { resolve(ttl: number): void; reject(error: Error): void }[] = [];

  constructor(endpoint: string, requestTimeoutMs: number) {
    this.client = new Etcd3({
      hosts: [`http://${endpoint}`],
      // Streams (watch, keep-alive) live for the phase; single calls get the request timeout.
      defaultCallOptions: (context) =>
        context.isStream ? {} : { deadline: Date.now() + requestTimeoutMs },
    });
  }

  async put(key: string, value: string): Promise<number> {
    const reply = await this.client.put(key).value(value).exec();
    return Number(reply.header.revision);
  }

  async txnPutBoth(key: string, other: string, value: string): Promise<boolean> {
    const reply = await this.client
      .if(key, "Create", ">", 0)
      .then(this.client.put(key).value(value), this.client.put(other).value(value))
      .else(this.client.get(key))
      .commit();
    return reply.succeeded;
  }

  async grant(ttlSeconds: number): Promise<string> {
    const reply = await this.client.leaseClient.leaseGrant({ TTL: ttlSeconds });
    return reply.ID;
  }

  private stream(): Promise<KeepAliveStream> {
    this.keepAliveStream ??= this.client.leaseClient.leaseKeepAlive().then((stream) => {
      stream.on("data", (reply: { TTL: string }) =>
        this.pending.shift()?.resolve(Number(reply.TTL)),
      );
      stream.on("error", (error: Error) => {
        for (const waiter of this.pending.splice(0)) waiter.reject(error);
        this.keepAliveStream = null;
      });
      return stream;
    });
    return this.keepAliveStream;
  }

  async keepAlive(lease: string): Promise<number> {
    const stream = await this.stream();
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      stream.write({ ID: lease });
    });
  }

  async watch(prefix: string, startRevision: number, sink: EventSink) {
    const watcher = await this.client
      .watch()
      .prefix(prefix)
      .startRevision(String(startRevision))
      .create();
    watcher.on("put", (kv) => sink(Number(kv.mod_revision)));
    watcher.on("delete", (kv) => sink(Number(kv.mod_revision)));
    return () => watcher.cancel();
  }

  async close(): Promise<void> {
    const stream = this.keepAliveStream;
    this.keepAliveStream = null;
    if (stream !== null) (await stream.catch(() => null))?.end();
    this.client.close();
  }
}
