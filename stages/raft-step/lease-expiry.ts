import type { Clock } from "../../queues/clock.js";
import type { ProposeResult } from "../../raft/types.js";
import { encodeCommand } from "../apply/commands.js";
import type { LeaseJudge } from "../apply/lease-commands.js";

/** What the expiry check asks of the state machine: the leader's view, all fields set. */
type LeaseDueQuery = Required<LeaseJudge>;

export interface LeaseExpiryPorts {
  /** This node's role and term now. */
  status(): { readonly role: string; readonly term: number };
  /** Ask the state machine which leases are due; `resolve` gets their ids. */
  askDue(query: LeaseDueQuery, resolve: (ids: readonly string[]) => void): void;
  /** Propose an entry no client waits for; `proposed` gets the core's answer. */
  propose(data: Uint8Array, proposed: (result: ProposeResult) => void): void;
}

export interface LeaseExpiryOptions {
  /** The election timeout: the extension a new leader gives leases renewed before it. */
  readonly electionTimeoutMs: number;
  /** How often the leader looks for due leases (part of the expiry bound: docs/leases.md). */
  readonly checkEveryMs: number;
}

/**
 * The leader's lease expiry (CONTRACT §5). Expiry is decided on the leader's clock and goes
 * through the log: on its ticks the leader asks the replicated lease table which leases are
 * past their deadline now (lease-commands.ts `leaseDeadline`), and proposes one expire entry
 * for them stamped with that time; every replica re-checks each lease at the entry and
 * deletes the same keys at the same index. Nothing but the ids in flight is kept here: the
 * table (renewal time and term of every lease) is replicated, so a new leader needs no
 * hand-over; leases renewed under an earlier leader get one election timeout more, and at
 * least a keep-alive period and an election timeout counted from when this leader took
 * office (the time of its first tick as leader of the term: later is the safe side).
 */
export class LeaseExpiry {
  /** A question to the state machine is out. */
  private asking = false;
  private nextCheckAt = 0;
  /** The term the ids below were proposed in. */
  private term = 0;
  /** The term this node last led, and its clock at its first tick as that term's leader. */
  private ledTerm = 0;
  private termStart = 0;
  /** Ids in a proposed expire entry → its index (Infinity until the core answers). */
  private readonly inFlight = new Map<string, number>();
  stats = { checks: 0, proposed: 0 };

  constructor(
    private readonly clock: Pick<Clock, "now">,
    private readonly ports: LeaseExpiryPorts,
    private readonly options: LeaseExpiryOptions,
  ) {}

  /** The check raft-step runs on its ticks: every quarter election timeout, at most every tick. */
  static onTicks(
    clock: Pick<Clock, "now">,
    timing: { readonly tickMs: number; readonly electionTimeoutMs?: number },
    ports: LeaseExpiryPorts,
  ): LeaseExpiry {
    const electionTimeoutMs = timing.electionTimeoutMs ?? 10 * timing.tickMs;
    const checkEveryMs = Math.max(timing.tickMs, electionTimeoutMs / 4);
    return new LeaseExpiry(clock, ports, { electionTimeoutMs, checkEveryMs });
  }

  /** Called on raft-step's ticks. */
  tick(): void {
    const { role, term } = this.ports.status();
    if (role !== "leader" || term !== this.term) {
      // Entries proposed in another term may never commit: their leases are asked again.
      this.inFlight.clear();
      this.term = term;
      if (role !== "leader") return;
    }
    const now = this.clock.now();
    if (this.ledTerm !== term) {
      this.ledTerm = term;
      this.termStart = now;
    }
    if (this.asking || now < this.nextCheckAt) return;
    this.nextCheckAt = now + this.options.checkEveryMs;
    this.asking = true;
    this.stats.checks++;
    const query = {
      now,
      term,
      termStart: this.termStart,
      extendMs: this.options.electionTimeoutMs,
    };
    this.ports.askDue(query, (ids) => {
      this.asking = false;
      this.expire(query, ids);
    });
  }

  /** Entries up to `index` are applied: their expiries are settled. */
  applied(index: number): void {
    for (const [id, at] of this.inFlight) if (at <= index) this.inFlight.delete(id);
  }

  private expire(query: LeaseDueQuery, ids: readonly string[]): void {
    const { role, term } = this.ports.status();
    if (role !== "leader" || term !== query.term || term !== this.term) return;
    const fresh = ids.filter((id) => !this.inFlight.has(id));
    if (fresh.length === 0) return;
    for (const id of fresh) this.inFlight.set(id, Number.POSITIVE_INFINITY);
    const { extendMs, termStart } = query;
    const command = { lease: { op: "expire" as const, ids: fresh, extendMs, termStart } };
    this.stats.proposed++;
    this.ports.propose(encodeCommand({ ...command, ts: query.now }), (result) => {
      for (const id of fresh) {
        if (!result.ok) this.inFlight.delete(id);
        else if (this.inFlight.has(id)) this.inFlight.set(id, result.index);
      }
    });
  }
}
