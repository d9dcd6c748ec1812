import { bytes, int } from "./bytes.js";
import type { Handlers } from "./door.js";
import { EtcdError } from "./errors.js";
import type { Fields, HeaderOf } from "./range.js";

/**
 * etcd's Lease service on the native lease ops (docs/protocol.md "Leases"). A lease id is the
 * same decimal int64 on both sides.
 */
export function leaseHandlers(header: HeaderOf, appliedIndex: () => number): Handlers {
  /** One keep-alive's answer: the lease's TTL, or TTL 0 for a lease that is gone. */
  const renew = async (
    session: { call(frame: Fields): Promise<Fields> },
    ID: unknown,
  ): Promise<Fields> => {
    try {
      const reply = await session.call({ op: "lease-keepalive", lease: leaseId(ID) });
      return { header: header(reply.index), ID, TTL: reply.ttl };
    } catch (error) {
      if (!(error instanceof EtcdError) || !/lease not found/.test(error.message)) throw error;
      return { header: header(appliedIndex()), ID, TTL: 0 };
    }
  };
  return {
    LeaseGrant: async (call, req) => {
      if (String(req.ID ?? "0") !== "0")
        throw EtcdError.unimplemented(
          "a lease id chosen by the client is not supported: stageraft assigns lease ids",
        );
      const reply = await call({ op: "lease-grant", ttl: int(req.TTL) });
      return { header: header(reply.index), ID: reply.lease, TTL: reply.ttl, error: "" };
    },
    LeaseRevoke: async (call, req) => {
      const reply = await call({ op: "lease-revoke", lease: leaseId(req.ID) });
      return { header: header(reply.revision ?? reply.index) };
    },
    LeaseTimeToLive: async (call, req) => {
      const reply = await call({
        op: "lease-ttl",
        lease: leaseId(req.ID),
        ...(req.keys === true ? { keys: true } : {}),
      });
      return {
        header: header(reply.index),
        ID: req.ID,
        TTL: reply.ttl,
        grantedTTL: reply.grantedTtl,
        keys: ((reply.keys as string[] | undefined) ?? []).map((key) => bytes(key)),
      };
    },
    LeaseLeases: async (call) => {
      const reply = await call({ op: "lease-list" });
      return {
        header: header(reply.index),
        leases: ((reply.leases as string[]) ?? []).map((ID) => ({ ID })),
      };
    },
    LeaseKeepAlive: {
      // Each request renews one lease; answered in order on the stream. A lease that is gone
      // answers TTL 0, as etcd does (the client then stops keeping it alive). Requests go to the
      // node as they arrive (the leader batches a round's keep-alives into one entry); only
      // the answers wait for the ones before them.
      stream: (rpc, open, fail) => {
        const session = open(() => {});
        let written: Promise<void> = Promise.resolve();
        rpc.on("data", (req: Fields) => {
          const answer = renew(session, req.ID);
          answer.catch(() => {}); // handled below, in order; never an unhandled rejection
          written = written
            .then(async () => {
              const response = await answer;
              if (!rpc.writableEnded) rpc.write(response);
            })
            .catch(fail);
        });
      },
    },
  };
}

function leaseId(id: unknown): string {
  const text = String(id ?? "0");
  if (!/^[1-9][0-9]{0,18}$/.test(text)) throw EtcdError.leaseNotFound();
  return text;
}
