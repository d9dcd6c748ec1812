import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
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
  readonly client: string | null;
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
    MemberAdd: async (call, req) => {
      const { name, peer } = addedMember(req.peerURLs);
      const before = ((await call({ op: "members" })).members as NativeMember[]) ?? [];
      if (before.some((m) => m.peer === peer))
        throw new EtcdError(status.FAILED_PRECONDITION, "etcdserver: Peer URLs already exists");
      if (before.some((m) => m.name === name))
        throw new EtcdError(status.FAILED_PRECONDITION, "etcdserver: member ID already exist");
      const reply = await call({
        op: "member-add",
        name,
        peer,
        client: null,
        voter: req.isLearner !== true,
      });
      const listed = members(ctx, reply);
      return {
        header: ctx.header(ctx.appliedIndex()),
        member: listed.find((m) => m.name === name) ?? null,
        members: listed,
      };
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
    // A member added but not yet started has no client address yet (etcd lists none either).
    clientURLs:
      m.name === ctx.self
        ? [`http://${ctx.etcdAddress()}`]
        : m.client === null
          ? []
          : [`ws://${m.client}/v1`],
    isLearner: !m.voter,
  }));
}

/** An etcd peer URL: scheme, an optional member name as its user part, host, port. */
const PEER_URL = /^(https?):\/\/(?:([A-Za-z0-9_.-]+)@)?([^:/@\s[\]]+):(\d{1,5})\/?$/;

/**
 * The stageraft member an etcd MemberAdd describes. etcd's request carries only peer URLs; a
 * stageraft member also needs a name, which its node must be started with: the URL's user part
 * (`http://n4@host:port`), else `host-port`. Its client address is learned from its hello.
 */
export function addedMember(peerURLs: unknown): { name: string; peer: string } {
  const urls = Array.isArray(peerURLs) ? peerURLs : [];
  if (urls.length !== 1 || typeof urls[0] !== "string")
    throw EtcdError.invalid("given member URLs are invalid (stageraft takes exactly one peer URL)");
  const match = PEER_URL.exec(urls[0]);
  const port = Number(match?.[4]);
  if (match === null || port < 1 || port > 65_535)
    throw EtcdError.invalid("given member URLs are invalid (http://[name@]host:port)");
  const host = match[3]!;
  const name = match[2] ?? `${host}-${port}`;
  return { name, peer: `${host}:${port}` };
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
