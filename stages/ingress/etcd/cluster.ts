import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { memberId } from "./bytes.js";
import type { Call, Handlers } from "./door.js";
import { EtcdError } from "./errors.js";
import type { Fields, HeaderOf } from "./range.js";

/** What the Cluster and Maintenance handlers need besides the call port. */
export interface ClusterContext {
  readonly header: HeaderOf;
  /** This node's name and the address its etcd door listens on. */
  readonly self: string;
  readonly etcdAddress: () => string;
  readonly dataDir: string;
  /** The local applied index (the revision a header reports outside the KV service). */
  readonly appliedIndex: () => number;
}

/** The etcd API version these answers follow (StatusResponse.version). */
export const ETCD_API_VERSION = "3.4.0";

interface NativeMember {
  readonly name: string;
  readonly peer: string;
  readonly client: string;
  readonly voter: boolean;
}

/** etcd's Cluster service on members / member-remove / member-promote. */
export function clusterHandlers(ctx: ClusterContext): Handlers {
  const answer = (reply: Fields) => ({
    header: ctx.header(ctx.appliedIndex()),
    members: members(ctx, reply),
  });
  return {
    MemberList: async (call) => answer(await call({ op: "members" })),
    MemberAdd: () => {
      throw EtcdError.unimplemented(
        "MemberAdd is not supported: a stageraft member needs a name and a client address, which etcd's request does not carry; use `stageraft member add NAME --peer HOST:PORT --client HOST:PORT` (docs/etcd-compat.md)",
      );
    },
    MemberRemove: async (call, req) => {
      const name = await memberName(call, req.ID);
      return answer(await call({ op: "member-remove", name }));
    },
    MemberPromote: async (call, req) => {
      const name = await memberName(call, req.ID);
      return answer(await call({ op: "member-promote", name }));
    },
  };
}

function members(ctx: ClusterContext, reply: Fields): Fields[] {
  return ((reply.members as NativeMember[]) ?? []).map((m) => ({
    ID: memberId(m.name),
    name: m.name,
    peerURLs: [`http://${m.peer}`],
    // Only this node's etcd address is known here; the others' etcd doors are not in the
    // membership, so their native (WebSocket) address is listed.
    clientURLs: [m.name === ctx.self ? `http://${ctx.etcdAddress()}` : `ws://${m.client}/v1`],
    isLearner: !m.voter,
  }));
}

/** The name of the member with etcd id `id`; NOT_FOUND as etcd's "member not found". */
async function memberName(call: Call, id: unknown): Promise<string> {
  const reply = await call({ op: "members" });
  const found = ((reply.members as NativeMember[]) ?? []).find(
    (m) => memberId(m.name) === String(id),
  );
  if (found === undefined) throw EtcdError.memberNotFound();
  return found.name;
}

/** etcd's Maintenance service: Status, Alarm, Defragment, MoveLeader. */
export function maintenanceHandlers(ctx: ClusterContext): Handlers {
  return {
    Status: async (call) => {
      const status = await call({ op: "status" });
      const dbSize = await directoryBytes(ctx.dataDir);
      return {
        header: ctx.header(status.appliedIndex),
        version: ETCD_API_VERSION,
        dbSize,
        // No free pages are kept apart: all of it is in use.
        dbSizeInUse: dbSize,
        leader: typeof status.leader === "string" ? memberId(status.leader) : "0",
        raftIndex: status.commitIndex,
        raftTerm: status.term,
        raftAppliedIndex: status.appliedIndex,
        errors: [],
        isLearner: status.role === "learner",
      };
    },
    // No alarm is raised by stageraft (a full disk stops the node through its fatal path):
    // the list is always empty, and there is nothing to activate or disarm.
    Alarm: () => ({ header: ctx.header(ctx.appliedIndex()), alarms: [] }),
    // stageraft's engines compact on their own; there is nothing to defragment.
    Defragment: () => ({ header: ctx.header(ctx.appliedIndex()) }),
    MoveLeader: async (call, req) => {
      const to = await memberName(call, req.targetID);
      await call({ op: "transfer-leader", to });
      return { header: ctx.header(ctx.appliedIndex()) };
    },
  };
}

/** etcd's Auth service: only Authenticate, to say that user/password auth is not served. */
export function authHandlers(): Handlers {
  return {
    Authenticate: () => {
      throw EtcdError.unimplemented(
        "authentication with a user and password is not supported by stageraft; send the configured client or admin token as `token` (or `authorization`) metadata",
      );
    },
  };
}

/** The bytes of the node's data directory (StatusResponse.dbSize). */
async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  let entries: import("node:fs").Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await directoryBytes(path);
    else if (entry.isFile())
      total += await stat(path).then(
        (s) => s.size,
        () => 0,
      );
  }
  return total;
}
