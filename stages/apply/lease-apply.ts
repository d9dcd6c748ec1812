import type { KvCommand, TxnOp } from "../../storage/engines/engine.js";
import type { ReplyBody } from "../items.js";
import { type ClientRequest, ErrorCode } from "../protocol.js";
import type { LeaseCommand } from "./lease-commands.js";
import type { LeaseTable, LeaseWrite } from "./leases.js";

/** What one lease entry does: its answer, the keys it deletes, the table's raw writes. */
export interface LeaseEffect {
  readonly answer: ReplyBody;
  readonly deletes: readonly string[];
  readonly writes: readonly LeaseWrite[];
}

/** Where a lease entry sits in the log, and the leader clock it carries. */
export interface LeaseEntryPosition {
  readonly index: number;
  readonly term: number;
  readonly ts: number;
}

export function notFound(id: string): ReplyBody {
  return fail(ErrorCode.notFound, `lease ${id} not found (never granted, expired or revoked)`);
}

/**
 * Apply one lease entry to the table (deterministic: the same on every replica). A revoke's
 * and an expiry's keys are deleted by the same entry, so every replica deletes the same keys
 * at the same index; `revision` is that index.
 */
export function applyLeaseCommand(
  table: LeaseTable,
  command: LeaseCommand,
  at: LeaseEntryPosition,
): LeaseEffect {
  switch (command.op) {
    case "grant": {
      const id = String(at.index);
      const writes = table.grant(id, command.ttl, at.ts, at.term);
      return { answer: ok({ lease: id, ttl: command.ttl }), deletes: [], writes };
    }
    case "keepalive": {
      const writes = table.renew(command.id, at.ts, at.term);
      if (writes === null) return { answer: notFound(command.id), deletes: [], writes: [] };
      return { answer: ok({ ttl: table.grantedTtl(command.id)! }), deletes: [], writes };
    }
    case "keepalives": {
      // One answer for the entry; each waiting client takes its own lease's part (ownAnswer).
      const renewed: Record<string, number> = {};
      const writes: LeaseWrite[] = [];
      for (const id of command.ids) {
        const renewal = table.renew(id, at.ts, at.term);
        if (renewal === null) continue;
        writes.push(...renewal);
        renewed[id] = table.grantedTtl(id)!;
      }
      return { answer: ok({ keepalives: renewed }), deletes: [], writes };
    }
    case "revoke": {
      const revoked = table.revoke(command.id);
      if (revoked === null) return { answer: notFound(command.id), deletes: [], writes: [] };
      return {
        answer: ok({ revoked: true, revision: at.index }),
        deletes: revoked.keys,
        writes: revoked.writes,
      };
    }
    case "expire": {
      const deletes: string[] = [];
      const writes: LeaseWrite[] = [];
      const expired: string[] = [];
      for (const id of command.ids) {
        // Re-checked here: a keep-alive applied since the leader decided keeps its lease.
        const judge = { now: at.ts, term: at.term, extendMs: command.extendMs };
        const withStart =
          command.termStart === undefined ? judge : { ...judge, termStart: command.termStart };
        if (!table.isExpired(id, withStart)) continue;
        const revoked = table.revoke(id)!;
        expired.push(id);
        deletes.push(...revoked.keys);
        writes.push(...revoked.writes);
      }
      return { answer: ok({ expired, revision: at.index }), deletes, writes };
    }
  }
}

/**
 * What one client gets of its entry's answer: its own lease's ttl, or NOT_FOUND for its own
 * lease, out of a keepalives entry's answer (`{keepalives: {id: ttl}}`); any other answer as
 * it is.
 */
export function ownAnswer(reply: ReplyBody, request: ClientRequest): ReplyBody {
  if (!reply.ok || request.op !== "lease-keepalive") return reply;
  const renewed = reply.result.keepalives as Readonly<Record<string, number>> | undefined;
  if (renewed === undefined) return reply;
  if (!Object.hasOwn(renewed, request.lease)) return notFound(request.lease);
  return ok({ ttl: renewed[request.lease] });
}

/**
 * A put (or a txn holding one, in either branch, nested too) naming a lease that is unknown is
 * refused before it runs: NOT_FOUND, nothing written. Which keys belong to which lease follows
 * from the applied changes afterwards (LeaseTable.follow).
 */
export function refusedForLease(table: LeaseTable, command: KvCommand | TxnOp): ReplyBody | null {
  if (command.op === "txn") {
    for (const op of [...command.success, ...command.failure]) {
      const refused = refusedForLease(table, op);
      if (refused !== null) return refused;
    }
    return null;
  }
  if (command.op !== "put" || command.lease === undefined || command.lease === null) return null;
  return table.has(command.lease) ? null : notFound(command.lease);
}

/** Does this entry end leases (its keys must be known: it starts a batch of its own)? */
export function endsLeases(command: { readonly lease?: LeaseCommand } | null): boolean {
  const op = command?.lease?.op;
  return op === "revoke" || op === "expire";
}

/** One command deleting all of a lease's keys: one revision, one KvChanges, for the entry. */
export function deleteAll(keys: readonly string[]): KvCommand {
  return {
    op: "txn",
    compare: [],
    success: keys.map((key) => ({ op: "delete", key })),
    failure: [],
  };
}

/** lease-ttl and lease-list, served at the applied state; `now` is this node's clock. */
export function readLeases(table: LeaseTable, request: ClientRequest, now: number): ReplyBody {
  if (request.op === "lease-list") return ok({ leases: table.ids() });
  if (request.op !== "lease-ttl")
    return fail(ErrorCode.badRequest, `"${request.op}" is not a read`);
  const lease = table.get(request.lease);
  // etcd answers TTL -1 for a lease that is gone, rather than an error.
  if (lease === null) return ok({ ttl: -1, grantedTtl: 0, ...(request.keys ? { keys: [] } : {}) });
  return ok({
    ttl: table.remainingSeconds(request.lease, now),
    grantedTtl: lease.record.ttl,
    ...(request.keys ? { keys: lease.keys } : {}),
  });
}

function ok(result: Record<string, unknown>): ReplyBody {
  return { ok: true, result };
}

function fail(code: ErrorCode, message: string): ReplyBody {
  return { ok: false, error: { code, message } };
}

/** A log entry's effect on the lease table, as the state machine's apply loop takes it. */
export interface LeaseStep {
  /** Set: the entry is answered here (a lease op, or a put refused for its lease). */
  readonly answer?: ReplyBody;
  /** Keys the entry deletes for its leases (a revoke, an expiry). */
  readonly deletes: readonly string[];
  readonly writes: readonly LeaseWrite[];
}

const nothing: LeaseStep = { deletes: [], writes: [] };

/**
 * The lease side of one entry. An entry the KV engine already applied (a replay after a
 * restart) leaves the table alone: it was loaded from the engine with that entry's effect.
 */
export function stepLeases(
  table: LeaseTable,
  command: { readonly kv?: KvCommand; readonly lease?: LeaseCommand; readonly ts: number },
  at: { readonly index: number; readonly term: number },
  replayed: boolean,
): LeaseStep {
  if (replayed) return nothing;
  if (command.lease !== undefined)
    return applyLeaseCommand(table, command.lease, { ...at, ts: command.ts });
  if (command.kv === undefined) return nothing;
  const refused = refusedForLease(table, command.kv);
  return refused === null ? nothing : { answer: refused, deletes: [], writes: [] };
}
