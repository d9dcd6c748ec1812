/**
 * What a lease entry carries (CONTRACT §5), and the one expiry rule that both the leader's
 * expiry check (raft-step/lease-expiry.ts) and the state machine (leases.ts) apply, so that a
 * revoke proposed on the leader's clock is re-checked identically on every replica.
 */

export type LeaseCommand =
  /** The new lease's id is the entry's index (unique and the same on every replica). */
  | { readonly op: "grant"; readonly ttl: number }
  | { readonly op: "keepalive"; readonly id: string }
  /**
   * The keep-alives the leader gathered in one round (raft-step/keepalive-batch.ts), distinct
   * ids in arrival order: each is renewed as a keepalive would be; an unknown one is skipped.
   */
  | { readonly op: "keepalives"; readonly ids: readonly string[] }
  | { readonly op: "revoke"; readonly id: string }
  /**
   * The leader found these leases past their deadline at the entry's `ts`; each is revoked
   * unless a renewal applied since moved its deadline. `extendMs` (the leader's election
   * timeout) and `termStart` (its clock when it took office; absent in entries written before
   * it was carried) travel so that every replica computes the same deadlines.
   */
  | {
      readonly op: "expire";
      readonly ids: readonly string[];
      readonly extendMs: number;
      readonly termStart?: number;
    };

/** The leader's view an expiry is judged in (lease-expiry.ts asks the table with it). */
export interface LeaseJudge {
  /** The leader's clock now. */
  readonly now: number;
  readonly term: number;
  /** The leader's clock when it took office in `term`. */
  readonly termStart?: number;
  /** The election timeout. */
  readonly extendMs: number;
}

/** At most this many ids in one keepalives entry (a round's keep-alives beyond it take more). */
export const KEEPALIVE_BATCH_MAX = 1000;

/** A lease as the replicated state holds it. */
export interface LeaseRecord {
  /** Granted ttl, seconds. */
  readonly ttl: number;
  /** Leader clock (entry `ts`) of the grant or the last keep-alive applied. */
  readonly renewTs: number;
  /** Term of the entry that carried that renewal. */
  readonly renewTerm: number;
}

/**
 * When a lease expires, judged by the leader of `term`. A lease renewed in that term expires
 * ttl after its renewal. One renewed under an earlier leader gets `extendMs` (one election
 * timeout) more: the new leader may not have seen the keep-alives its client sent during the
 * election. And it gets at least a keep-alive period (ttl/3) plus `extendMs` from `termStart`:
 * while nobody led, no keep-alive could land, so an election longer than the lease's ttl
 * must not cost a live client its lease (etcd restarts every lease's ttl on promotion for the
 * same reason). docs/leases.md has the bounds.
 */
export function leaseDeadline(
  record: LeaseRecord,
  term: number,
  extendMs: number,
  termStart?: number,
): number {
  const ttlMs = record.ttl * 1000;
  if (record.renewTerm === term) return record.renewTs + ttlMs;
  const afterRenewal = record.renewTs + ttlMs + extendMs;
  if (termStart === undefined) return afterRenewal;
  return Math.max(afterRenewal, termStart + ttlMs / 3 + extendMs);
}
