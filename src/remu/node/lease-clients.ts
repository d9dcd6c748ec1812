import type { SeededRandom } from "../../../raft/rand.js";
import type { ClientRequest } from "../../../stages/protocol.js";
import type { NodeHost } from "./host.js";
import { checkLeaseReplicas, LeaseLedger, type LeaseTimings, machineOf } from "./lease-checks.js";
import { RequestLane } from "./lease-lane.js";

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

/**
 * A lease holder of node mode, as src/client/lease.ts behaves: grant a lease (ttl 1–3 s), put
 * a key on it, and keep it alive every ttl/3 on a timer of its own (each keep-alive retried,
 * an attempt given up after a quarter period, as the typed client's backoff cap); now and then
 * abandon it (a client that died) or revoke it; then start over. Grants, puts and revokes
 * carry a session and are retried with the same seq; keep-alives carry none (they are
 * batched). What happens is told to the LeaseLedger, which checks it.
 */
export class LeaseClient {
  private seq = 0;
  /** Grants, puts and revokes; keep-alives go on their own lane, as on their own timer. */
  private readonly ops: RequestLane;
  private readonly keepAlives: RequestLane;
  /** The lease held and kept alive, or null. */
  private lease: { id: string; ttl: number } | null = null;
  private generation = 0;
  private stopped = false;

  constructor(
    readonly id: number,
    private readonly world: LeaseClientWorld,
    private readonly random: SeededRandom,
    private readonly session: string,
  ) {
    const label = `lease client ${id}`;
    this.ops = new RequestLane(world, random, label);
    this.keepAlives = new RequestLane(world, random, label, (request) => {
      if (request.op === "lease-keepalive") world.ledger.sent(request.lease);
    });
  }

  /** Start (a first lease after a random delay). */
  start(): void {
    this.world.at(this.world.now() + this.random.int(200), () => this.grant());
  }

  /** The run ends: no more requests (a held lease is left as it is). */
  stop(): void {
    this.stopped = true;
    this.ops.cancel();
    this.keepAlives.cancel();
  }

  private grant(): void {
    if (this.stopped || this.world.now() >= this.world.grantUntil) return;
    const ttl = 1 + this.random.int(3);
    const generation = ++this.generation;
    this.ops.request(
      { op: "lease-grant", ttl, ...this.nextSeq() },
      1_000,
      150,
      (answer, sentAt) => {
        if (answer === null || !answer.ok) {
          this.note(`lease-grant ttl ${ttl} → ${answer === null ? "unknown" : answer.error.code}`);
          this.again(100);
          return;
        }
        const id = String(answer.lease);
        const key = `L/${this.id}/${generation}`;
        this.lease = { id, ttl };
        this.world.ledger.granted(id, this.id, ttl, key, sentAt);
        this.note(`lease-grant ttl ${ttl} → ${id}`);
        this.schedule(id, sentAt);
        this.put(id, key);
      },
    );
  }

  private put(id: string, key: string): void {
    const request: ClientRequest = { op: "put", key, value: "held", lease: id, ...this.nextSeq() };
    this.ops.request(request, 600, 150, (answer) => {
      if (answer !== null && !answer.ok && answer.error.code === "NOT_FOUND")
        this.world.ledger.ended(id, "put NOT_FOUND");
      const outcome = answer === null ? "unknown" : answer.ok || answer.error.code;
      this.note(`put ${key} lease ${id} → ${outcome}`);
    });
  }

  /** The next period (`from` + ttl/3): keep alive, or now and then abandon or revoke the lease. */
  private schedule(id: string, from: number): void {
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
    this.schedule(id, start);
    // Attempts until the next period, each given up after a quarter of it (src/client/lease.ts).
    const request: ClientRequest = { op: "lease-keepalive", lease: id };
    this.keepAlives.request(request, period, period / 4, (answer, sentAt) => {
      if (answer?.ok) this.world.ledger.renewed(id, sentAt);
      else if (answer !== null && answer.error.code === "NOT_FOUND" && this.lease?.id === id) {
        this.world.ledger.ended(id, "keep-alive NOT_FOUND");
        this.note(`lease-keepalive ${id} → NOT_FOUND; lease lost`);
        this.lease = null;
        this.again(0);
      }
    });
  }

  private abandon(id: string): void {
    this.lease = null;
    this.keepAlives.cancel();
    this.world.ledger.stopped(id);
    this.note(`abandons lease ${id}`);
    this.again(0);
  }

  private revoke(id: string): void {
    this.lease = null;
    this.keepAlives.cancel();
    this.world.ledger.stopped(id, true);
    this.ops.request({ op: "lease-revoke", lease: id, ...this.nextSeq() }, 600, 150, (answer) => {
      if (answer !== null && !answer.ok && answer.error.code === "NOT_FOUND")
        this.world.ledger.ended(id, "revoke NOT_FOUND");
      this.note(
        `lease-revoke ${id} → ${answer === null ? "unknown" : answer.ok || answer.error.code}`,
      );
      this.again(0);
    });
  }

  /** A new lease a little later (the put or revoke in flight is dropped then). */
  private again(minMs: number): void {
    this.world.at(this.world.now() + minMs + this.random.int(300), () => {
      if (this.lease === null) this.grant();
    });
  }

  private nextSeq(): { session: string; seq: number } {
    return { session: this.session, seq: ++this.seq };
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
