import { randomUUID } from "node:crypto";
import type { Consistency } from "../../stages/protocol.js";
import { EndpointSockets } from "./endpoint-sockets.js";
import { type FailedAttempt, mostTelling, StageraftError } from "./errors.js";
import { Lease, LeaseApi, type LeaseHandleOptions, type RetryPolicy } from "./lease.js";
import { lock as acquireLock, Election, type Lock, type RecipeOptions } from "./recipes.js";
import type {
  GetResult,
  KeyValue,
  PutOptions,
  RangeOptions,
  ScanRequestOptions,
  ScanResult,
  TxnRequest,
  TxnResult,
} from "./revisions.js";
import { VectorClient } from "./vector-client.js";

export { StageraftError } from "./errors.js";

import { type WatchOptions, WatchStream } from "./watch.js";

export interface ClientOptions {
  /** Bearer token sent on the WebSocket upgrade. */
  readonly token?: string;
  /** Per request; past it the promise rejects with TIMEOUT. */
  readonly requestTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  /** Attempts for requests whose failure promises that nothing was done. */
  readonly maxAttempts?: number;
  readonly retryBackoffMs?: number;
  /** Watches ping their node this often and leave it when a ping goes unanswered (watch.ts). */
  readonly watchKeepAliveMs?: number;
  /**
   * Tag every write with a client session and a sequence number: the cluster applies each at
   * most once, so writes whose outcome is unknown (TIMEOUT, lost connection) are retried too.
   * `true` picks a random session id.
   */
  readonly session?: boolean | string;
}

const writeOps = new Set([
  "put",
  "delete",
  "cas",
  "incr",
  "txn",
  "vcreate",
  "vput",
  "vdelete",
  "vset-meta",
  "vdrop",
  // A keep-alive is idempotent: retried without a session, it costs no session record.
  "lease-grant",
  "lease-revoke",
]);

export interface StatusResult {
  readonly name: string;
  readonly role: "leader" | "follower" | "candidate" | "learner";
  readonly term: number;
  readonly leader: string | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly members: string[];
}

export interface VectorHit {
  readonly key: string;
  readonly score: number;
  readonly meta: Record<string, string | number | boolean | null> | null;
}

export interface MemberInfo {
  readonly name: string;
  readonly peer: string;
  readonly client: string | null;
  readonly voter: boolean;
}

/**
 * A client for a stageraft cluster. Requests are pipelined on one WebSocket and matched by id.
 * Requests that fail with a code promising nothing was done (NOT_LEADER, UNAVAILABLE,
 * OVERLOADED, a connection that never carried them) are retried on the next endpoint with
 * backoff; TIMEOUT is never retried for writes (their outcome is unknown).
 */
export class StageraftClient {
  /** One connection per endpoint used; the current one takes new requests. */
  private readonly sockets: EndpointSockets;
  private closed = false;
  private readonly options: Required<Omit<ClientOptions, "token" | "session">> & { token?: string };
  /** The session id, when writes are exactly-once. */
  readonly session: string | null;
  private seq = 0;
  /** Watches made by watch(): close() ends them too. */
  private readonly watches = new Set<WatchStream>();
  /** The vector ops of CONTRACT §6 (batches, get, count, scroll, filters, collections). */
  readonly vectors = new VectorClient((frame) => this.request(frame));

  constructor(
    readonly endpoints: readonly string[],
    options: ClientOptions = {},
  ) {
    if (endpoints.length === 0) throw new Error("stageraft client: no endpoints");
    const { session, ...rest } = options;
    this.options = {
      requestTimeoutMs: 10_000,
      connectTimeoutMs: 3_000,
      maxAttempts: 8,
      retryBackoffMs: 50,
      watchKeepAliveMs: 5_000,
      ...rest,
    };
    this.session = session === true ? randomUUID() : typeof session === "string" ? session : null;
    this.sockets = new EndpointSockets(endpoints, this.options);
  }

  /**
   * `prevKv`: answer the key as it was before (null when absent); `lease`: attach the key;
   * `ignoreValue`/`ignoreLease` (added): keep the key's value ("" here) or lease.
   */
  async put(
    key: string,
    value: string,
    options: PutOptions = {},
  ): Promise<{ index: number; revision: number; prevKv?: KeyValue | null }> {
    return (await this.request({ op: "put", key, value, ...options })) as {
      index: number;
      revision: number;
    };
  }

  /** The lease ops (CONTRACT §5): grant, keepAlive, revoke, timeToLive, list. */
  readonly leases: LeaseApi = new LeaseApi(this);

  /** A lease of `ttl` seconds that keeps itself alive until revoked or closed (lease.ts). */
  lease(ttl: number, options?: LeaseHandleOptions): Promise<Lease> {
    return Lease.grant(this.leases, ttl, options);
  }

  /** Wait for the mutex `name`; `revision` of the lock is its fencing revision (recipes.ts). */
  lock(name: string, options?: RecipeOptions): Promise<Lock> {
    return acquireLock(this, name, options);
  }

  /** A leader election under `name`: campaign, proclaim, leader, observe, resign. */
  election(name: string, options?: RecipeOptions): Election {
    return new Election(this, name, options);
  }

  /** `revision`: read the key as it was at that revision (COMPACTED when no longer kept). */
  async get(
    key: string,
    options: { consistency?: Consistency; revision?: number } = {},
  ): Promise<GetResult> {
    return (await this.request({ op: "get", key, ...options })) as unknown as GetResult;
  }

  /** Delete every key in a prefix or [start, end): answers how many were deleted. */
  async deleteRange(
    range: RangeOptions,
    options: { prevKv?: boolean } = {},
  ): Promise<{ deleted: number; index: number; revision: number; prevKvs?: KeyValue[] }> {
    return (await this.request({ op: "delete", ...range, ...options })) as {
      deleted: number;
      index: number;
      revision: number;
    };
  }

  /** Compares, then the success ops if all hold, else the failure ops: one atomic entry. */
  async txn(request: TxnRequest): Promise<TxnResult> {
    return (await this.request({ op: "txn", ...request })) as unknown as TxnResult;
  }

  /** Forget the history below `revision` (admin token). */
  async compact(revision: number): Promise<{ revision: number }> {
    return (await this.request({ op: "compact", revision })) as { revision: number };
  }

  async delete(
    key: string,
    options: { prevKv?: boolean } = {},
  ): Promise<{ deleted: boolean; index: number; revision: number; prevKvs?: KeyValue[] }> {
    return (await this.request({ op: "delete", key, ...options })) as {
      deleted: boolean;
      index: number;
      revision: number;
    };
  }

  async cas(
    key: string,
    expect: string | null,
    value: string,
  ): Promise<{ succeeded: boolean; value: string | null; index: number }> {
    return (await this.request({ op: "cas", key, expect, value })) as {
      succeeded: boolean;
      value: string | null;
      index: number;
    };
  }

  async incr(key: string, delta: number): Promise<{ value: number; index: number }> {
    return (await this.request({ op: "incr", key, delta })) as { value: number; index: number };
  }

  async scan(
    range: ScanRequestOptions & { consistency?: Consistency; revision?: number } = {},
  ): Promise<ScanResult> {
    return (await this.request({ op: "scan", ...range })) as unknown as ScanResult;
  }

  async status(): Promise<StatusResult> {
    return (await this.request({ op: "status" })) as unknown as StatusResult;
  }

  async members(): Promise<MemberInfo[]> {
    return ((await this.request({ op: "members" })) as { members: MemberInfo[] }).members;
  }

  /**
   * Add a member: answered once it is in the configuration as a learner; a voter (the default)
   * is then promoted by the leader, without further requests, once it has caught up.
   */
  async memberAdd(member: {
    name: string;
    peer: string;
    /** Omitted (sent as null): the cluster learns it from the member's hello once it starts. */
    client?: string | null;
    voter?: boolean;
  }): Promise<MemberInfo[]> {
    const frame = { op: "member-add", ...member, client: member.client ?? null };
    return ((await this.request(frame)) as { members: MemberInfo[] }).members;
  }

  async memberRemove(name: string): Promise<MemberInfo[]> {
    return ((await this.request({ op: "member-remove", name })) as { members: MemberInfo[] })
      .members;
  }

  /** Promote a learner (one added with voter false) that has caught up. */
  async memberPromote(name: string): Promise<MemberInfo[]> {
    return ((await this.request({ op: "member-promote", name })) as { members: MemberInfo[] })
      .members;
  }

  async transferLeader(to: string): Promise<{ leader: string }> {
    return (await this.request({ op: "transfer-leader", to })) as { leader: string };
  }

  /** Create a vector collection (idempotent with the same settings). */
  async vcreate(
    collection: string,
    spec: {
      dim: number;
      metric: "l2" | "cosine" | "ip";
      engine?: "hnsw" | "flat";
      params?: { m?: number; efConstruction?: number; efSearch?: number };
    },
  ): Promise<{ index: number }> {
    return (await this.request({ op: "vcreate", collection, ...spec })) as { index: number };
  }

  /** Insert or replace the vector stored under `key`. */
  async vput(
    collection: string,
    key: string,
    vector: readonly number[],
    meta?: Record<string, string | number | boolean | null>,
  ): Promise<{ index: number }> {
    return (await this.request({
      op: "vput",
      collection,
      key,
      vector,
      ...(meta ? { meta } : {}),
    })) as { index: number };
  }

  async vdelete(collection: string, key: string): Promise<{ deleted: boolean; index: number }> {
    return (await this.request({ op: "vdelete", collection, key })) as {
      deleted: boolean;
      index: number;
    };
  }

  /** The k nearest vectors, best first (l2: squared distance; cosine, ip: similarity). */
  async vsearch(
    collection: string,
    vector: readonly number[],
    k: number,
    options: {
      ef?: number;
      filter?: Record<string, string | number | boolean | null>;
      consistency?: Consistency;
    } = {},
  ): Promise<{ hits: VectorHit[]; index: number }> {
    return (await this.request({ op: "vsearch", collection, vector, k, ...options })) as {
      hits: VectorHit[];
      index: number;
    };
  }

  /** Snapshot every node at the same log index (the request goes through the log). */
  async snapshot(): Promise<{ index: number }> {
    return (await this.request({ op: "snapshot" })) as { index: number };
  }

  /** Watch changes (src/client/watch.ts): resumes by itself; `break` cancels it. */
  watch(options: WatchOptions): WatchStream {
    const stream = new WatchStream(this.endpoints, options, this.options, () =>
      this.watches.delete(stream),
    );
    this.watches.add(stream);
    return stream;
  }

  /** Send any request frame (without id); resolves with the result fields. */
  async request(
    frame: Record<string, unknown>,
    retry: RetryPolicy = {},
  ): Promise<Record<string, unknown>> {
    const attempts: FailedAttempt[] = [];
    // A session write keeps its seq across retries: the cluster answers a retry of an applied
    // write with its first answer, so even an unknown outcome may be retried.
    const exactlyOnce =
      this.session !== null && writeOps.has(String(frame.op)) && frame.session === undefined;
    const sent = exactlyOnce ? { ...frame, session: this.session, seq: ++this.seq } : frame;
    for (let attempt = 0; attempt < this.options.maxAttempts; attempt++) {
      if (this.closed) throw new StageraftError("CONNECTION", "the client is closed");
      const endpoint = this.sockets.current;
      try {
        return await this.sockets.once(sent, retry.attemptTimeoutMs);
      } catch (error) {
        if (!(error instanceof StageraftError)) throw error;
        attempts.push({ endpoint, error });
        // A node that does not answer may never close the socket (paused, unroutable): the
        // next request goes elsewhere, whether or not this one is retried.
        if (error.code === "TIMEOUT") this.sockets.rotate(null);
        if (!(error.retryable || (exactlyOnce && error.code === "TIMEOUT")))
          throw mostTelling(attempts);
        // OVERLOADED: the same node, later. Otherwise another node (the leader if named).
        if (error.code !== "OVERLOADED" && error.code !== "TIMEOUT")
          this.sockets.rotate(error.leader);
        const backoffMs = this.options.retryBackoffMs * 2 ** Math.min(attempt, 5);
        await new Promise((resolve) =>
          setTimeout(resolve, Math.min(backoffMs, retry.backoffCapMs ?? backoffMs)),
        );
      }
    }
    throw mostTelling(attempts);
  }

  close(): void {
    this.closed = true;
    for (const stream of [...this.watches]) stream.close();
    this.sockets.close(new StageraftError("CONNECTION", "the client was closed"));
  }
}

/** Connect to a cluster: `endpoints` are client addresses (host:port) of any of its nodes. */
export function connect(
  endpoints: string | readonly string[],
  options: ClientOptions = {},
): StageraftClient {
  return new StageraftClient(
    typeof endpoints === "string" ? endpoints.split(",") : endpoints,
    options,
  );
}
