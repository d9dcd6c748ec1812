import type { SeededRandom } from "../../../raft/rand.js";
import type { ClientRequest } from "../../../stages/protocol.js";
import type { ClientConnection } from "../../../stages/respond/mod.js";
import { adminConnection, type NodeHost, offerRequest } from "./host.js";
import { checkLeaseReplicas, LeaseLedger, type LeaseTimings, machineOf } from "./lease-checks.js";

/** What a lease client needs of the run. */
export interface LeaseClientWorld {
  readonly hosts: readonly NodeHost[];
  readonly ledger: LeaseLedger;
  now(): number;
  /** New leases are granted only before this virtual time (the safety phase). */
  readonly grantUntil: number;
  at(time: number, fn: () => void): void;
  trace(line: string): void;
}

type Answer =
  | ({ id: number; ok: true } & Record<string, unknown>)
  | { id: number; ok: false; error: { code: string } };

/** One request over its attempts: `done` gets the answer, or null when every attempt failed. */
interface Call {
  readonly request: ClientRequest;
  /** No attempt starts at or after this virtual time. */
  readonly until: number;
  readonly timeoutMs: number;
  readonly done: (answer: Answer | null, sentAt: number) => void;
  tried: number;
  /** The id of the attempt in flight (answers to earlier attempts are ignored). */
  id: number;
  sentAt: number;
  firstSentAt: number;
}

/**
 * A lease holder of node mode, as src/client/lease.ts behaves: grant a lease (ttl 1–3 s),
 * put a key on it, keep it alive every ttl/3 (each keep-alive retried, an attempt given up
 * after a quarter period, as the typed client's backoff cap), and now and then abandon it
 * (stop: a client that died) or revoke it; then start over. Grants, puts and revokes carry a
 * session and are retried with the same seq; keep-alives carry none (they are batched). What
 * happens is told to the LeaseLedger, which checks it.
 */
export class LeaseClient {
  private seq = 0;
  private nextId = 1;
  private call: Call | null = null;
  private connection: ClientConnection | null = null;
  private host: NodeHost | null = null;
  /** The lease held and kept alive, or null. */
  private lease: { id: string; ttl: number; key: string } | null = null;
  private generation = 0;
  private stopped = false;

  constructor(
    readonly id: number,
    private readonly world: LeaseClientWorld,
    private readonly random: SeededRandom,
    private readonly session: string,
  ) {}

  /** Start (a first lease after a random delay). */
  start(): void {
    this.world.at(this.world.now() + this.random.int(200), () => this.grant());
  }

  /** The run ends: no more requests (a held lease is left as it is). */
  stop(): void {
    this.stopped = true;
    this.call = null;
  }

  private grant(): void {
    if (this.stopped || this.world.now() >= this.world.grantUntil) return;
    const ttl = 1 + this.random.int(3);
    const generation = ++this.generation;
    this.request({ op: "lease-grant", ttl, ...this.nextSeq() }, 1_000, 150, (answer, sentAt) => {
      if (answer === null || !answer.ok) {
        this.note(`lease-grant ttl ${ttl} → ${answer === null ? "unknown" : answer.error.code}`);
        this.world.at(this.world.now() + 100 + this.random.int(300), () => this.grant());
        return;
      }
      const id = String(answer.lease);
      const key = `L/${this.id}/${generation}`;
      this.lease = { id, ttl, key };
      this.world.ledger.granted(id, this.id, ttl, key, sentAt);
      this.note(`lease-grant ttl ${ttl} → ${id}`);
      this.put(id, key);
    });
  }

  private put(id: string, key: string): void {
    const request: ClientRequest = { op: "put", key, value: "held", lease: id, ...this.nextSeq() };
    this.request(request, 600, 150, (answer) => {
      if (answer?.ok === false && answer.error.code === "NOT_FOUND")
        this.world.ledger.ended(id, "put NOT_FOUND");
      else if (answer?.ok) this.world.ledger.attached(id);
      this.note(
        `put ${key} lease ${id} → ${answer === null ? "unknown" : answer.ok || answer.error.code}`,
      );
      this.schedule(id);
    });
  }

  /** The next period (`from` + ttl/3): keep alive, or now and then abandon or revoke the lease. */
  private schedule(id: string, from = this.world.now()): void {
    const lease = this.lease;
    if (lease === null || lease.id !== id) return;
    const at = Math.max(this.world.now(), from + periodMs(lease.ttl));
    this.world.at(at, () => {
      if (this.stopped || this.lease?.id !== id) return;
      const roll = this.random.int(100);
      const early = this.world.now() < this.world.grantUntil;
      if (roll < 8 && early) this.abandon(id);
      else if (roll < 12 && early) this.revoke(id);
      else this.keepAlive(id, lease.ttl);
    });
  }

  private keepAlive(id: string, ttl: number): void {
    const period = periodMs(ttl);
    const start = this.world.now();
    // Attempts until the next period, each given up after a quarter of it (src/client/lease.ts).
    this.request({ op: "lease-keepalive", lease: id }, period, period / 4, (answer, sentAt) => {
      if (answer?.ok) this.world.ledger.renewed(id, sentAt);
      else if (answer?.error.code === "NOT_FOUND") {
        this.world.ledger.ended(id, "keep-alive NOT_FOUND");
        this.note(`lease-keepalive ${id} → NOT_FOUND; lease lost`);
        this.lease = null;
        this.world.at(this.world.now() + this.random.int(300), () => this.grant());
        return;
      }
      this.schedule(id, start);
    });
  }

  private abandon(id: string): void {
    this.lease = null;
    this.world.ledger.stopped(id);
    this.note(`abandons lease ${id}`);
    this.world.at(this.world.now() + this.random.int(300), () => this.grant());
  }

  private revoke(id: string): void {
    this.lease = null;
    this.world.ledger.stopped(id, true);
    this.request({ op: "lease-revoke", lease: id, ...this.nextSeq() }, 600, 150, (answer) => {
      if (answer?.ok === false && answer.error.code === "NOT_FOUND")
        this.world.ledger.ended(id, "revoke NOT_FOUND");
      this.note(
        `lease-revoke ${id} → ${answer === null ? "unknown" : answer.ok || answer.error.code}`,
      );
      this.world.at(this.world.now() + this.random.int(300), () => this.grant());
    });
  }

  private nextSeq(): { session: string; seq: number } {
    return { session: this.session, seq: ++this.seq };
  }

  /** One request, one attempt at a time; an attempt unanswered after `timeoutMs` is retried. */
  private request(
    request: ClientRequest,
    forMs: number,
    timeoutMs: number,
    done: Call["done"],
  ): void {
    const until = this.world.now() + forMs;
    this.call = { request, until, timeoutMs, done, tried: 0, id: 0, sentAt: 0, firstSentAt: 0 };
    this.attempt(this.call);
  }

  private attempt(call: Call): void {
    if (this.call !== call) return;
    call.tried++;
    call.id = this.nextId++;
    call.sentAt = this.world.now();
    if (call.tried === 1) call.firstSentAt = call.sentAt;
    if (call.request.op === "lease-keepalive") this.world.ledger.sent(call.request.lease);
    const id = call.id;
    this.world.at(this.world.now() + call.timeoutMs, () => {
      if (this.call === call && call.id === id) this.failed(call, "timeout");
    });
    const host = this.pickHost(call.tried > 1);
    if (host === undefined) return; // no node is up: the attempt times out
    const connection = this.connect(host);
    if (!offerRequest(host, connection, id, call.request, call.timeoutMs))
      this.failed(call, "OVERLOADED");
  }

  /** An attempt failed (nothing done, or unknown): the next one, or the call's end. */
  private failed(call: Call, why: string): void {
    this.note(`${call.request.op} attempt ${call.tried} → ${why}`);
    this.connection = null;
    this.host = null;
    // After a refusal (no leader yet, overloaded) the next attempt waits a little.
    const at = this.world.now() + (why === "timeout" ? 1 : call.timeoutMs / 2);
    if (at < call.until) {
      const id = call.id;
      this.world.at(at, () => {
        if (call.id === id) this.attempt(call);
      });
      return;
    }
    this.call = null;
    call.done(null, call.sentAt);
  }

  private answer(reply: Answer): void {
    const call = this.call;
    if (call === null || reply.id !== call.id) return; // an earlier attempt's
    if (!reply.ok && reply.error.code !== "NOT_FOUND") {
      this.failed(call, reply.error.code);
      return;
    }
    this.call = null;
    // A session's answer may be an earlier attempt's, applied then: it counts from the first.
    call.done(reply, "session" in call.request ? call.firstSentAt : call.sentAt);
  }

  /** First attempts go to the node the client talks to; retries to the leader, if one is up. */
  private pickHost(retry: boolean): NodeHost | undefined {
    const up = this.world.hosts.filter((h) => h.life !== null);
    if (retry) {
      const leader = up.find((h) => h.life!.raft.status().role === "leader");
      if (leader !== undefined) return leader;
    }
    if (this.host?.life != null) return this.host;
    return up.length === 0 ? undefined : this.random.pick(up);
  }

  private connect(host: NodeHost): ClientConnection {
    if (this.host === host && this.connection !== null && !this.connection.closed)
      return this.connection;
    const connection = adminConnection<Answer>(
      host,
      (reply) => this.answer(reply),
      () => {
        if (this.connection === connection) this.connection = null;
      },
    );
    this.host = host;
    this.connection = connection;
    return connection;
  }

  private note(line: string): void {
    this.world.trace(`lease client ${this.id} ${line}`);
  }
}

/** The keep-alive period: ttl/3, as the typed client's. */
export function periodMs(ttl: number): number {
  return (ttl * 1000) / 3;
}

/** The run's lease holders and the ledger that checks them. */
export class LeaseWorkload {
  readonly ledger: LeaseLedger;
  private readonly clients: LeaseClient[] = [];

  constructor(
    count: number,
    timings: LeaseTimings,
    world: Omit<LeaseClientWorld, "ledger">,
    linkUp: (from: string, to: string) => boolean,
    random: () => SeededRandom,
  ) {
    this.ledger = new LeaseLedger(timings, world.now, linkUp);
    for (let k = 1; k <= count; k++)
      this.clients.push(
        new LeaseClient(k, { ...world, ledger: this.ledger }, random(), `lease-client-${k}`),
      );
  }

  start(): void {
    for (const client of this.clients) client.start();
  }

  /** No more requests: the end checks follow. */
  stop(): void {
    for (const client of this.clients) client.stop();
  }

  observe(hosts: readonly NodeHost[]): void {
    if (this.clients.length > 0) this.ledger.observe(hosts);
  }

  /** The replicas the end check compares: the leader's configuration's (else every one). */
  replicas(hosts: readonly NodeHost[]): NodeHost[] {
    const members = this.ledger.leaders.members(hosts);
    return hosts.filter((h) => !h.retired && (members === null || members.has(h.name)));
  }

  /** Every replica is up and has applied as far as the others (the end check may run). */
  caughtUp(hosts: readonly NodeHost[]): boolean {
    if (this.clients.length === 0) return true;
    const applied = this.replicas(hosts).map((h) => machineOf(h)?.kv.appliedIndex ?? -1);
    return !applied.includes(-1) && applied.every((a) => a === applied[0]);
  }

  async checkReplicas(hosts: readonly NodeHost[], seed: number): Promise<string | null> {
    if (this.clients.length === 0) return null;
    return checkLeaseReplicas(this.replicas(hosts), seed);
  }
}
