import type { Consistency, WriteSession } from "./protocol.js";

/**
 * The lease ops of the client protocol (CONTRACT §5), kept apart from protocol.ts, which
 * takes them into its ClientRequest and op tables. No value imports here: protocol.ts
 * imports this file's tables while it is itself being loaded.
 */
export type LeaseRequest =
  /** ttl in seconds. */
  | ({ readonly op: "lease-grant"; readonly ttl: number } & WriteSession)
  | ({ readonly op: "lease-keepalive"; readonly lease: string } & WriteSession)
  | ({ readonly op: "lease-revoke"; readonly lease: string } & WriteSession)
  | {
      readonly op: "lease-ttl";
      readonly lease: string;
      readonly keys: boolean;
      readonly consistency: Consistency;
    }
  | { readonly op: "lease-list"; readonly consistency: Consistency };

export type LeaseOp = LeaseRequest["op"];

/** Lease ops that go through the log (the others are reads of the applied table). */
export const leaseWriteOps: Record<LeaseOp, boolean> = {
  "lease-grant": true,
  "lease-keepalive": true,
  "lease-revoke": true,
  "lease-ttl": false,
  "lease-list": false,
};

export const leaseAdminOps: Record<LeaseOp, boolean> = {
  "lease-grant": false,
  "lease-keepalive": false,
  "lease-revoke": false,
  "lease-ttl": false,
  "lease-list": false,
};

/** Seconds a lease may be granted for at most (etcd's MaxLeaseTTL is 9,000,000,000 s). */
export const LEASE_TTL_MAX = 9_000_000_000;

/** The largest lease id: etcd's lease id is a positive int64. */
export const LEASE_ID_MAX = (1n << 63n) - 1n;
const LEASE_ID = /^[1-9][0-9]{0,18}$/;

/** Is `id` the decimal string of a positive 64-bit integer (no sign, no leading zero)? */
export function isLeaseId(id: string): boolean {
  return LEASE_ID.test(id) && BigInt(id) <= LEASE_ID_MAX;
}
