import { Metadata, status } from "@grpc/grpc-js";
import type { ErrorBody } from "../../protocol.js";

/** A native reply as respond encodes it (stages/protocol.ts encodeSuccess / encodeError). */
export type NativeReply =
  | ({ readonly ok: true } & Record<string, unknown>)
  | { readonly ok: false; readonly error: ErrorBody };

/**
 * An error as etcd answers it: a gRPC status code and the message etcd's clients recognise
 * (their retry rules and error classes match on these strings: etcd's api/v3rpc/rpctypes).
 */
export class EtcdError extends Error {
  /** The native error this one translates, when it does. */
  native: ErrorBody | null = null;

  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
  }

  static invalid(message: string): EtcdError {
    return new EtcdError(status.INVALID_ARGUMENT, `etcdserver: ${message}`);
  }
  static unimplemented(message: string): EtcdError {
    return new EtcdError(status.UNIMPLEMENTED, `etcdserver: ${message}`);
  }
  static emptyKey(): EtcdError {
    return new EtcdError(status.INVALID_ARGUMENT, "etcdserver: key is not provided");
  }
  static keyNotFound(): EtcdError {
    return new EtcdError(status.INVALID_ARGUMENT, "etcdserver: key not found");
  }
  static leaseNotFound(): EtcdError {
    return new EtcdError(status.NOT_FOUND, "etcdserver: requested lease not found");
  }
  static memberNotFound(): EtcdError {
    return new EtcdError(status.NOT_FOUND, "etcdserver: member not found");
  }
  static tooManyRequests(): EtcdError {
    return new EtcdError(status.RESOURCE_EXHAUSTED, "etcdserver: too many requests");
  }
  static invalidAuthToken(): EtcdError {
    return new EtcdError(status.UNAUTHENTICATED, "etcdserver: invalid auth token");
  }
}

/** The native error (CONTRACT §3 codes) as etcd would have answered it. */
export function nativeError(error: ErrorBody): EtcdError {
  const translated = translate(error);
  translated.native = error;
  return translated;
}

function translate(error: ErrorBody): EtcdError {
  const { message } = error;
  switch (error.code) {
    case "COMPACTED":
      return new EtcdError(
        status.OUT_OF_RANGE,
        "etcdserver: mvcc: required revision has been compacted",
      );
    case "BAD_REQUEST":
      // A read's ("revision" 12 is past …), a compact's and a txn's read at a revision.
      if (/"revision" (\d+ )?(inside the txn )?is past/.test(message))
        return new EtcdError(
          status.OUT_OF_RANGE,
          "etcdserver: mvcc: required revision is a future revision",
        );
      if (/is put twice|is both put and deleted/.test(message))
        return EtcdError.invalid("duplicate key given in txn request");
      // A put keeping the key's value or lease (alone or in a txn) of an absent key.
      if (/^ignoreValue\/ignoreLease: the key .* is not found$/s.test(message))
        return EtcdError.keyNotFound();
      return EtcdError.invalid(message);
    case "TOO_LARGE":
      if (/compares and ops/.test(message))
        return EtcdError.invalid("too many operations in txn request");
      return EtcdError.invalid("request is too large");
    case "NOT_LEADER":
      return new EtcdError(status.FAILED_PRECONDITION, "etcdserver: not leader");
    case "UNAVAILABLE":
      if (/no leader/.test(message))
        return new EtcdError(status.UNAVAILABLE, "etcdserver: no leader");
      if (/leadership changed/.test(message))
        return new EtcdError(status.UNAVAILABLE, "etcdserver: leader changed");
      if (/learner has not caught up/.test(message))
        return new EtcdError(
          status.FAILED_PRECONDITION,
          "etcdserver: can only promote a learner member which is in sync with leader",
        );
      return new EtcdError(status.UNAVAILABLE, `etcdserver: ${message}`);
    case "TIMEOUT":
      return new EtcdError(status.UNAVAILABLE, "etcdserver: request timed out");
    case "OVERLOADED":
      return EtcdError.tooManyRequests();
    case "UNAUTHORIZED":
      return new EtcdError(status.PERMISSION_DENIED, "etcdserver: permission denied");
    case "NOT_FOUND":
      if (/lease/.test(message)) return EtcdError.leaseNotFound();
      return new EtcdError(status.NOT_FOUND, `etcdserver: ${message}`);
    case "CONFLICT":
      return new EtcdError(status.FAILED_PRECONDITION, `etcdserver: ${message}`);
    default:
      return new EtcdError(status.UNKNOWN, `etcdserver: ${message}`);
  }
}

/** What grpc-js sends for an error thrown by a handler. */
export function grpcError(error: unknown): Partial<import("@grpc/grpc-js").StatusObject> {
  if (error instanceof EtcdError)
    return { code: error.code, details: error.message, metadata: new Metadata() };
  return {
    code: status.INTERNAL,
    details: `etcdserver: internal error: ${(error as Error).message}`,
    metadata: new Metadata(),
  };
}
