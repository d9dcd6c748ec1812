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
   * unless a renewal applied since moved its deadline. `extendMs` is the leader's election
   * timeout, carried so that every replica computes the same deadlines.
   */
  | { readonly op: "expire"; readonly ids: readonly string[]; readonly extendMs: number };

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
 * election, and must not expire the lease early (docs/leases.md has the bound).
 */
export function leaseDeadline(record: LeaseRecord, term: number, extendMs: number): number {
  const extension = record.renewTerm === term ? 0 : extendMs;
  return record.renewTs + record.ttl * 1000 + extension;
}
