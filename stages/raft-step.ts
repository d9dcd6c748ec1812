import type { Logger } from "pino";
import { Stage, type StageSnapshot } from "../queues/mod.js";
import { decodeConfigEntry } from "../raft/membership.js";
import type { RaftNode, RaftStatus } from "../raft/node.js";
import { EntryType, type Message, type Ready, type SnapshotMeta } from "../raft/types.js";
import { AdminOps } from "./admin.js";
import { encodeCommand, type LogCommand } from "./commands.js";
import type {
  ApplyItem,
  ClientItem,
  QueuePort,
  RaftStepItem,
  RaftStepPort,
  ReplicatePort,
  RespondPort,
  WalItem,
} from "./items.js";
import type { MemberDirectory } from "./members.js";
import { adminOps, type ClientRequest, ErrorCode, leaderOps, writeOps } from "./protocol.js";

export interface RaftStepOptions {
  readonly capacityItems: number;
  readonly batchItems: number;
  readonly tickMs: number;
  /** Followers forward writes to the leader; off: NOT_LEADER with the leader's address. */
  readonly forwarding: boolean;
  readonly snapshotRetainEntries: number;
  /** How long member-add / member-remove / transfer-leader may take. */
  readonly adminTimeoutMs: number;
  /** What a vcreate without engine or params gets (resolved here, on the leader). */
  readonly vectorDefaults: VectorDefaults;
}

export interface VectorDefaults {
  readonly engine: "hnsw" | "flat";
  readonly hnsw: { readonly m: number; readonly efConstruction: number; readonly efSearch: number };
  /** Per collection name (engines.collections in the config). */
  readonly collections: Readonly<
    Record<
      string,
      { engine?: "hnsw" | "flat"; m?: number; efConstruction?: number; efSearch?: number }
    >
  >;
}

export interface RaftStepPorts {
  readonly wal: QueuePort<WalItem>;
  readonly apply: QueuePort<ApplyItem>;
  readonly replicate: ReplicatePort;
  readonly respond: RespondPort;
}

interface PendingRead {
  readonly item: ClientItem;
}

/**
 * Stage 2: owns the Raft core. Client requests become proposals or ReadIndex requests, peer
 * messages are stepped, a timer ticks; then every Ready is fanned out — messages to replicate,
 * durable state to wal-append, committed entries and safe reads to apply. A Ready is taken only
 * when wal-append and apply have room for it, so nothing the core hands out is ever dropped.
 */
export class RaftStepStage implements RaftStepPort {
  readonly stage: Stage<RaftStepItem>;
  private timer: NodeJS.Timeout | null = null;
  private readonly pendingReads = new Map<string, PendingRead>();
  private readSeq = 0;
  private forwardSeq = 0;
  private readonly forwarded = new Map<number, { item: ClientItem }>();
  private lastRole: string;
  stats = { readies: 0, proposals: 0, forwarded: 0, refused: 0 };

  private readonly admin: AdminOps;

  constructor(
    private readonly raft: RaftNode,
    private readonly ports: RaftStepPorts,
    private readonly directory: MemberDirectory,
    private readonly options: RaftStepOptions,
    private readonly log: Logger,
  ) {
    this.admin = new AdminOps(raft, directory, ports.respond, options.adminTimeoutMs);
    this.learnMembers(raft.membership.currentContext());
    this.stage = new Stage<RaftStepItem>("raft-step", (batch) => this.handle(batch), {
      capacityItems: options.capacityItems,
      batch: { maxItems: options.batchItems },
      concurrency: 1,
    });
    this.stage.on("error", (error) => {
      // An assertion in the core, or a Ready half fanned out: nothing sound can follow.
      this.log.fatal({ err: error }, "raft-step failed; stopping the node");
      process.exit(70);
    });
    this.lastRole = raft.role;
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.options.tickMs);
    this.flush();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  offer(item: RaftStepItem): boolean {
    return this.stage.offer(item);
  }

  snapshot(): StageSnapshot {
    return this.stage.snapshot();
  }

  status(): RaftStatus {
    return this.raft.status();
  }

  private tick(): void {
    this.raft.tick();
    this.admin.poll();
    this.expireForwarded();
    this.flush();
  }

  private handle(batch: RaftStepItem[]): void {
    for (const item of batch) {
      if (item.kind === "peer") this.stepMessages(item.messages);
      else this.handleClient(item);
    }
    this.flush();
  }

  private stepMessages(messages: readonly Message[]): void {
    for (const message of messages) {
      if (message.group !== this.raft.config.group || message.to !== this.raft.id) continue;
      this.raft.step(message);
    }
  }

  private handleClient(item: ClientItem): void {
    const { request } = item;
    if (adminOps[request.op] && !item.admin) {
      this.refuse(
        item,
        ErrorCode.unauthorized,
        `"${request.op}" needs a connection opened with the admin token`,
      );
      return;
    }
    switch (request.op) {
      case "status":
        this.ports.respond.reply({
          target: item.target,
          body: { ok: true, result: this.statusResult() },
        });
        return;
      case "members":
        this.ports.respond.reply({
          target: item.target,
          body: {
            ok: true,
            result: { members: this.directory.view(this.raft.membership.current()) },
          },
        });
        return;
      default:
        break;
    }
    if (!leaderOps[request.op]) this.handleRead(item);
    else if (this.raft.role !== "leader") this.notLeader(item);
    else if (writeOps[request.op] || request.op === "snapshot") this.handleWrite(item);
    else this.admin.handle(item);
  }

  /** The contract's status fields (also the start of /health). */
  statusResult(): Record<string, unknown> {
    const status = this.raft.status();
    const members = [
      ...new Set([...status.config.voters, ...status.config.outgoing, ...status.config.learners]),
    ];
    // The contract's roles: a pre-candidate is a candidate; a non-voting member is a learner.
    const role =
      status.role === "precandidate"
        ? "candidate"
        : status.role === "follower" && status.config.learners.includes(status.id)
          ? "learner"
          : status.role;
    return {
      name: status.id,
      role,
      term: status.term,
      leader: status.leader,
      commitIndex: status.commitIndex,
      appliedIndex: status.appliedIndex,
      members,
    };
  }

  private handleWrite(item: ClientItem): void {
    // The apply stage must be able to take the waiter: then nothing can be lost after proposing.
    if (!this.ports.apply.hasRoom(1, 0)) {
      this.refuse(item, ErrorCode.overloaded, "the apply stage is full; retry later");
      return;
    }
    const command = toLogCommand(item.request, Date.now(), this.options.vectorDefaults);
    const result = this.raft.propose(encodeCommand(command));
    if (!result.ok) {
      const code = result.reason === "too-large" ? ErrorCode.overloaded : ErrorCode.unavailable;
      this.refuse(item, code, `proposal refused: ${result.reason}`);
      return;
    }
    this.stats.proposals++;
    const waiter: ApplyItem = {
      kind: "wait",
      index: result.index,
      term: result.term,
      target: item.target,
      request: item.request,
      deadline: item.deadline,
    };
    const accepted = this.ports.apply.offer(waiter);
    if (!accepted) throw new Error("apply stage refused a waiter it said it had room for");
  }

  private handleRead(item: ClientItem): void {
    const request = item.request as Extract<ClientRequest, { consistency: unknown }>;
    if (request.consistency === "stale") {
      this.offerRead(item, 0);
      return;
    }
    if (this.raft.leader === null) {
      this.refuse(item, ErrorCode.unavailable, "no leader is known right now");
      return;
    }
    if (this.raft.role !== "leader" && !this.options.forwarding) {
      // Without forwarding a follower sends linearizable and lease reads to the leader too.
      this.notLeader(item);
      return;
    }
    const ctx = `${this.raft.id}:${++this.readSeq}`;
    this.pendingReads.set(ctx, { item });
    // A follower's core asks the leader for the read index; the read is then served locally.
    this.raft.readIndex(ctx, request.consistency);
  }

  private offerRead(item: ClientItem, index: number): void {
    const read: ApplyItem = {
      kind: "read",
      index,
      target: item.target,
      request: item.request,
      deadline: item.deadline,
    };
    if (!this.ports.apply.offer(read))
      this.refuse(item, ErrorCode.overloaded, "the apply stage is full; retry later");
  }

  private notLeader(item: ClientItem): void {
    const leader = this.raft.leader;
    if (leader === null) {
      this.refuse(item, ErrorCode.unavailable, "no leader is known right now");
      return;
    }
    if (this.options.forwarding && item.target.kind === "local") {
      const forwardId = ++this.forwardSeq;
      if (
        this.ports.replicate.forward(leader, forwardId, item.target.id, item.request, item.admin)
      ) {
        this.forwarded.set(forwardId, { item });
        this.stats.forwarded++;
        return;
      }
      this.refuse(
        item,
        ErrorCode.unavailable,
        `the leader ${leader} is not reachable from this node`,
      );
      return;
    }
    const address = this.directory.get(leader)?.client ?? null;
    this.ports.respond.reply({
      target: item.target,
      body: {
        ok: false,
        error: { code: ErrorCode.notLeader, message: `${leader} is the leader`, leader: address },
      },
    });
  }

  /** The leader answered a request this node forwarded. */
  onForwardReply(forwardId: number): ClientItem | null {
    const pending = this.forwarded.get(forwardId);
    if (pending === undefined) return null;
    this.forwarded.delete(forwardId);
    return pending.item;
  }

  private expireForwarded(): void {
    if (this.forwarded.size === 0 && this.pendingReads.size === 0) return;
    const now = Date.now();
    for (const [forwardId, { item }] of this.forwarded) {
      if (item.deadline > now) continue;
      this.forwarded.delete(forwardId);
      this.refuse(
        item,
        ErrorCode.timeout,
        "the leader did not answer in time; the write may or may not have been applied",
      );
    }
    for (const [ctx, { item }] of this.pendingReads) {
      if (item.deadline > now) continue;
      this.pendingReads.delete(ctx);
      this.refuse(item, ErrorCode.timeout, "the read index was not confirmed in time");
    }
  }

  private refuse(item: ClientItem, code: ErrorCode, message: string): void {
    this.stats.refused++;
    this.ports.respond.reply({
      target: item.target,
      body: { ok: false, error: { code, message } },
    });
  }

  // ------------------------------------------------------------ Ready fan-out

  /** Take Readys while downstream has room: wal-append one item, apply two (entries, restore). */
  private flush(): void {
    while (this.raft.hasReady()) {
      if (!this.ports.wal.hasRoom(1, 0) || !this.ports.apply.hasRoom(2, 0)) return;
      this.dispatch(this.raft.ready());
    }
  }

  kick(): void {
    this.flush();
  }

  /** New members' addresses arrive in configuration entries: connect to them at once. */
  private learnMembers(context: string): void {
    for (const member of this.directory.mergeContext(context)) {
      if (member.name !== this.raft.id) this.ports.replicate.addPeer(member.name, member.peer);
    }
  }

  private dispatch(ready: Ready): void {
    this.stats.readies++;
    if (ready.softState !== null) this.logRoleChange(ready);
    if (ready.snapshot !== null) this.learnMembers(ready.snapshot.configContext ?? "");
    for (const entry of ready.entries) {
      if (entry.type === EntryType.config) this.learnMembers(decodeConfigEntry(entry.data).context);
    }
    if (ready.messages.length > 0) this.ports.replicate.send(ready.messages);
    if (!this.ports.wal.offer({ kind: "ready", ready }))
      throw new Error("wal-append refused a Ready it had room for");
    if (
      ready.committed.length > 0 &&
      !this.ports.apply.offer({ kind: "committed", entries: ready.committed })
    ) {
      throw new Error("apply refused committed entries it had room for");
    }
    for (const state of ready.readStates) {
      const pending = this.pendingReads.get(state.ctx);
      if (pending === undefined) continue;
      this.pendingReads.delete(state.ctx);
      if (state.ok) this.offerRead(pending.item, state.index);
      else
        this.refuse(
          pending.item,
          ErrorCode.unavailable,
          "leadership changed before the read was confirmed",
        );
    }
  }

  private logRoleChange(ready: Ready): void {
    const soft = ready.softState!;
    if (soft.role === this.lastRole && soft.role !== "leader") return;
    this.lastRole = soft.role;
    this.log.info(
      {
        group: this.raft.config.group,
        term: soft.term,
        index: this.raft.log.lastIndex(),
        role: soft.role,
        leader: soft.leader,
      },
      soft.role === "leader" ? "became leader" : `now ${soft.role}`,
    );
  }

  onPersisted(ready: Ready): void {
    if (ready.persistedMessages.length > 0) this.ports.replicate.send(ready.persistedMessages);
    this.raft.advance(ready);
    this.flush();
  }

  onApplied(index: number): void {
    this.raft.appliedTo(index);
    this.flush();
  }

  compact(index: number, size: number): { meta: SnapshotMeta; retainFrom: number } {
    const meta = this.raft.compact(index, size, this.options.snapshotRetainEntries);
    this.log.info(
      { group: this.raft.config.group, term: this.raft.term, index: meta.index, bytes: size },
      "snapshot taken, log compacted",
    );
    this.flush();
    return { meta, retainFrom: this.raft.log.firstIndex };
  }
}

/**
 * The entry a write becomes. A vcreate carries its engine and parameters fully resolved by the
 * leader: replicas configured differently must still build the same collection.
 */
function toLogCommand(
  request: ClientRequest,
  ts: number,
  vectorDefaults: VectorDefaults,
): LogCommand {
  const meta =
    "session" in request && request.session !== undefined
      ? { session: { id: request.session, seq: request.seq! }, ts }
      : { ts };
  switch (request.op) {
    case "put":
      return { kv: { op: "put", key: request.key, value: request.value }, ...meta };
    case "delete":
      return { kv: { op: "delete", key: request.key }, ...meta };
    case "cas":
      return {
        kv: { op: "cas", key: request.key, expect: request.expect, value: request.value },
        ...meta,
      };
    case "incr":
      return { kv: { op: "incr", key: request.key, delta: request.delta }, ...meta };
    case "vcreate": {
      const { op, collection, dim, metric } = request;
      const { engine: configured, ...configuredParams } =
        vectorDefaults.collections[collection] ?? {};
      const engine = request.engine ?? configured ?? vectorDefaults.engine;
      const params = { ...vectorDefaults.hnsw, ...configuredParams, ...request.params };
      return { vec: { op, collection, dim, metric, engine, params }, ...meta };
    }
    case "vput": {
      const { op, collection, key, vector, meta: fields } = request;
      return { vec: { op, collection, key, vector, ...(fields ? { meta: fields } : {}) }, ...meta };
    }
    case "vdelete":
      return { vec: { op: "vdelete", collection: request.collection, key: request.key }, ...meta };
    case "snapshot":
      return { snapshot: true, ts };
    default:
      throw new Error(`not a write: ${request.op}`);
  }
}
