import { type ClientRequest, ErrorCode } from "./protocol.js";
import { consistencyField, Invalid, sessionFields } from "./protocol-fields.js";
import { isLeaseId, LEASE_TTL_MAX, type LeaseOp } from "./protocol-leases.js";

/** The gateway's checks of the lease ops (CONTRACT §5): BAD_REQUEST names the field. */
export function decodeLeaseOp(op: LeaseOp, frame: Record<string, unknown>): ClientRequest {
  switch (op) {
    case "lease-grant":
      return { op, ttl: ttlField(frame), ...sessionFields(frame) };
    case "lease-keepalive":
    case "lease-revoke":
      return { op, lease: leaseField(frame, "lease"), ...sessionFields(frame) };
    case "lease-ttl": {
      const keys = frame.keys ?? false;
      if (typeof keys !== "boolean")
        throw new Invalid(ErrorCode.badRequest, '"keys" must be a boolean');
      return {
        op,
        lease: leaseField(frame, "lease"),
        keys,
        consistency: consistencyField(frame),
      };
    }
    case "lease-list":
      return { op, consistency: consistencyField(frame) };
  }
}

function ttlField(frame: Record<string, unknown>): number {
  const ttl = frame.ttl;
  if (typeof ttl !== "number" || !Number.isSafeInteger(ttl) || ttl < 1 || ttl > LEASE_TTL_MAX)
    throw new Invalid(
      ErrorCode.badRequest,
      `"ttl" must be an integer number of seconds in [1, ${LEASE_TTL_MAX}]`,
    );
  return ttl;
}

/** A lease id: the decimal string of a positive 64-bit integer (etcd's lease id). */
export function leaseField(frame: Record<string, unknown>, name: string): string {
  const value = frame[name];
  if (typeof value !== "string" || !isLeaseId(value))
    throw new Invalid(
      ErrorCode.badRequest,
      `"${name}" must be a lease id: the decimal string of a positive 64-bit integer`,
    );
  return value;
}

/** put's optional `lease` (null or absent: no lease). */
export function optionalLeaseField(frame: Record<string, unknown>): { lease?: string } {
  return frame.lease === undefined || frame.lease === null
    ? {}
    : { lease: leaseField(frame, "lease") };
}
