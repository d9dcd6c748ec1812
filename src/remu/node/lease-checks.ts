import { StateMachine } from "../../../stages/apply/mod.js";
import { InvariantKind, InvariantViolation } from "../invariants.js";
import type { NodeHost } from "./host.js";
import { LeaderTimeline } from "./leaders.js";
import { epochMs } from "./world.js";

/** What the client saw of one lease (virtual ms). */
interface LeaseLog {
  readonly id: string;
  readonly client: number;
  readonly ttlMs: number;
  readonly key: string;
  /** Send times of the acknowledged grant and keep-alives (a renewal counts from before it). */
  readonly acks: number[];
  /** The last acknowledged renewal's send time. */
  lastAck: number;
  /** The put of its key was acknowledged. */
  attached: boolean;
  /** When the client abandoned it or sent its revoke. */
  stoppedAt: number | null;
  revoked: boolean;
  /** When it was first seen gone, and how. */
  endedAt: number | null;
  endedHow: string;
}

export interface LeaseTimings {
  readonly seed: number;
  /** The election timeout (raft.electionTicks × tickMs). */
  readonly electionMs: number;
  /** Allowance for an abandoned lease's end: check period, ticks, commit and apply. */
  readonly slackMs: number;
}

/**
 * The lease invariants of node mode, checked after every event and at the end (docs/remu.md,
 * "Leases"). Every message names the seed.
 * - never early: no lease ends before ttl after its last acknowledged renewal;
 * - kept alive: a lease its client keeps alive ends only if, after its last acknowledged
 *   renewal, one leader was in office for a keep-alive period plus an election timeout
 *   (ttl/3 + ET, the grace a new leader gives) without acknowledging any of the client's
 *   keep-alives sent meanwhile: a leaderless stretch, however long, is no excuse;
 * - abandoned: a lease its client stopped is gone from the leader's table by
 *   max(last keep-alive sent + ttl + 2 ET, leader in office + ttl/3 + ET) plus the slack,
 *   counted only while that leader has a quorum of live voters it is linked with;
 * - at the end: the replicas' lease tables and attached keys agree (leases.ts check below).
 */
export class LeaseLedger {
  private readonly leases = new Map<string, LeaseLog>();
  /**
   * Per lease, the latest of: its last keep-alive attempt's send time (an unacknowledged one
   * may renew it) and the renewal time any replica's table holds (a request may wait in a
   * queue and be stamped later than it was sent).
   */
  private readonly lastRenewal = new Map<string, number>();
  readonly leaders: LeaderTimeline;
  stats = { granted: 0, renewed: 0, abandoned: 0, revoked: 0, expired: 0, lost: 0, ended: 0 };

  constructor(
    private readonly timings: LeaseTimings,
    private readonly now: () => number,
    linkUp: (from: string, to: string) => boolean,
  ) {
    this.leaders = new LeaderTimeline(linkUp, timings.electionMs);
  }

  granted(id: string, client: number, ttl: number, key: string, sentAt: number): void {
    this.stats.granted++;
    this.leases.set(id, {
      id,
      client,
      ttlMs: ttl * 1000,
      key,
      acks: [sentAt],
      lastAck: sentAt,
      attached: false,
      stoppedAt: null,
      revoked: false,
      endedAt: null,
      endedHow: "",
    });
  }

  attached(id: string): void {
    const lease = this.leases.get(id);
    if (lease !== undefined) lease.attached = true;
  }

  sent(id: string): void {
    this.renewedAt(id, this.now());
  }

  private renewedAt(id: string, at: number): void {
    this.lastRenewal.set(id, Math.max(at, this.lastRenewal.get(id) ?? 0));
  }

  renewed(id: string, sentAt: number): void {
    const lease = this.leases.get(id);
    if (lease === undefined) return;
    this.stats.renewed++;
    lease.acks.push(sentAt);
    lease.lastAck = Math.max(lease.lastAck, sentAt);
    if (lease.endedAt !== null) this.checkNeverEarly(lease);
  }

  stopped(id: string, revoked = false): void {
    const lease = this.leases.get(id);
    if (lease === undefined || lease.stoppedAt !== null) return;
    lease.stoppedAt = this.now();
    lease.revoked = revoked;
    if (revoked) this.stats.revoked++;
    else this.stats.abandoned++;
  }

  /** The lease was seen gone (an answer NOT_FOUND, or absent from an up-to-date replica). */
  ended(id: string, how: string): void {
    const lease = this.leases.get(id);
    if (lease === undefined || lease.endedAt !== null) return;
    lease.endedAt = this.now();
    lease.endedHow = how;
    this.stats.ended++;
    if (lease.stoppedAt !== null && !lease.revoked) this.stats.expired++;
    this.checkNeverEarly(lease);
    if (lease.stoppedAt === null) this.checkKeptAlive(lease);
  }

  /** After every event: leadership, leases seen gone, abandoned leases past their bound. */
  observe(hosts: readonly NodeHost[]): void {
    const now = this.now();
    this.leaders.observe(now, hosts);
    for (const lease of this.leases.values()) {
      if (lease.endedAt !== null) continue;
      for (const host of hosts) {
        const machine = machineOf(host);
        // Its lease id is its grant's index: a replica that applied it and lacks it saw it end.
        if (machine === null || machine.kv.appliedIndex < Number(lease.id)) continue;
        const held = machine.leases.get(lease.id);
        if (held !== null) {
          this.renewedAt(lease.id, held.record.renewTs - epochMs);
          continue;
        }
        this.ended(lease.id, `gone on ${host.name}`);
        break;
      }
      if (lease.endedAt === null && lease.stoppedAt !== null) this.checkAbandoned(lease, now);
    }
  }

  private checkNeverEarly(lease: LeaseLog): void {
    const endedAt = lease.endedAt!;
    if (lease.revoked && endedAt >= lease.stoppedAt!) return;
    const earliest = lease.lastAck + lease.ttlMs;
    if (endedAt < earliest)
      this.fail(
        InvariantKind.leaseEarly,
        `${this.describe(lease)} ended at ${endedAt} (${lease.endedHow}), before its last acknowledged renewal (sent ${lease.lastAck}) + ttl = ${earliest}`,
      );
  }

  private checkKeptAlive(lease: LeaseLog): void {
    const endedAt = lease.endedAt!;
    const graceMs = lease.ttlMs / 3 + this.timings.electionMs;
    const excuse = this.leaders.longestUnserved(lease.lastAck, endedAt, lease.acks);
    if (excuse.ms >= graceMs) {
      this.stats.lost++;
      return;
    }
    this.fail(
      InvariantKind.leaseLost,
      `${this.describe(lease)} ended at ${endedAt} (${lease.endedHow}) while its client kept it alive (last acknowledged renewal sent ${lease.lastAck}); no leader went ${graceMs} ms (ttl/3 + ET) without acknowledging a keep-alive since (longest: ${excuse.ms} ms${excuse.leader})`,
    );
  }

  private checkAbandoned(lease: LeaseLog, now: number): void {
    const since = this.leaders.committingSince();
    if (since === null) return;
    const { electionMs, slackMs } = this.timings;
    const lastRenewal = Math.max(lease.lastAck, this.lastRenewal.get(lease.id) ?? 0);
    const bound =
      Math.max(
        lastRenewal + lease.ttlMs + 2 * electionMs,
        since.leaderSince + lease.ttlMs / 3 + electionMs,
        since.readySince,
      ) + slackMs;
    if (now <= bound) return;
    this.fail(
      InvariantKind.leaseLate,
      `${this.describe(lease)} abandoned at ${lease.stoppedAt} (last renewal ${lastRenewal}) still exists at ${now}, past its bound ${bound}: max(last + ttl + 2 ET, ${since.leader} leading since ${since.leaderSince} + ttl/3 + ET, able to commit since ${since.readySince}) + ${slackMs} ms`,
    );
  }

  private describe(lease: LeaseLog): string {
    return `seed ${this.timings.seed}: lease ${lease.id} (client ${lease.client}, ttl ${lease.ttlMs / 1000} s, key ${lease.key})`;
  }

  private fail(kind: InvariantKind, message: string): never {
    throw new InvariantViolation(kind, message);
  }
}

export function machineOf(host: NodeHost): StateMachine | null {
  const machine = host.life?.pipeline.storage.machine;
  return machine instanceof StateMachine ? machine : null;
}

/**
 * At the end, after healing and with every replica at the same applied index: every replica
 * holds the same leases (ids, ttl, keys) and the same keys attached; no key is attached to a
 * lease that no longer exists, and every key a lease lists carries that lease.
 */
export async function checkLeaseReplicas(
  hosts: readonly NodeHost[],
  seed: number,
): Promise<string | null> {
  let first: { node: string; applied: number; table: string } | null = null;
  for (const host of hosts) {
    const machine = machineOf(host);
    if (machine === null) continue;
    const table = await leasesOf(machine);
    if (table.problem !== null)
      return `lease-replicas: seed ${seed}: on ${host.name} ${table.problem}`;
    const applied = machine.kv.appliedIndex;
    if (first === null) first = { node: host.name, applied, table: table.text };
    else if (first.applied !== applied)
      return `lease-replicas: seed ${seed}: ${first.node} applied ${first.applied} but ${host.name} ${applied} after healing`;
    else if (first.table !== table.text)
      return `lease-replicas: seed ${seed}: ${first.node} and ${host.name} applied up to ${applied} but their leases differ:\n  ${first.table}\n  ${table.text}`;
  }
  return null;
}

/** A replica's leases (ids, ttl, keys) and attached keys, or what is inconsistent in them. */
async function leasesOf(machine: StateMachine): Promise<{ text: string; problem: string | null }> {
  const read = await machine.kv.read({
    op: "scan",
    range: { prefix: "" },
    limit: Number.MAX_SAFE_INTEGER,
  });
  if (!read.ok || read.result.op !== "scan") return { text: "", problem: "the scan failed" };
  const attached = read.result.items.filter((kv) => kv.lease !== null);
  for (const kv of attached) {
    const lease = machine.leases.get(kv.lease!);
    if (!lease?.keys.includes(kv.key))
      return {
        text: "",
        problem: `key ${kv.key} is attached to lease ${kv.lease}, which ${lease === null ? "no longer exists" : "does not list it"}`,
      };
  }
  const leases = machine.leases.ids().map((id) => ({ id, ...machine.leases.get(id)! }));
  for (const { id, keys } of leases)
    for (const key of keys)
      if (!attached.some((kv) => kv.key === key && kv.lease === id))
        return { text: "", problem: `lease ${id} lists key ${key}, which does not carry it` };
  const table = leases.map(({ id, record, keys }) => ({ id, ttl: record.ttl, keys }));
  const text = JSON.stringify({
    leases: table,
    attached: attached.map((kv) => [kv.key, kv.lease]),
  });
  return { text, problem: null };
}
