import type { Logger } from "pino";
import { Stage, type StageSnapshot } from "../../queues/mod.js";
import { decodeConfigEntry } from "../../raft/membership.js";
import type { RaftStatus, ReadMode } from "../../raft/node.js";
import {
  type ConfigChange,
  EntryType,
  type Message,
  type NodeId,
  type ProposeResult,
  type Ready,
  type SnapshotMeta,
} from "../../raft/types.js";
import { encodeCommand, type LogCommand } from "../apply/commands.js";
import type {
  ApplyItem,
  ClientItem,
  Fatal,
  QueuePort,
  RaftStepItem,
  RaftStepPort,
  ReplicatePort,
  RespondPort,
  WalItem,
} from "../items.js";
import { adminOps, type ClientRequest, ErrorCode, leaderOps, writeOps } from "../protocol.js";
import { type AdminCore, AdminOps, type AdminWait } from "./admin.js";
import type { MemberDirectory } from "./members.js";
import type { CoreView, RaftCore, RoundInput, RoundOutput } from "./raft-core.js";
import { Removal, type RemovedNotice } from "./removal.js";

export interface RaftStepOptions {
  readonly capacityItems: number;
  readonly batchItems: number;
  readonly tickMs: number;
  /** Followers forward writes to the leader; off: NOT_LEADER with the leader's address. */
  readonly forwarding: boolean;
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
  /** This node learned that it was removed from the cluster: the program stops it. */
  readonly removed?: (reason: string) => void;
  /** A broken invariant: stop the node (src/node.ts; exit 70). */
  readonly fatal: Fatal;
}

/** A forwarded request waits this much longer than the leader's own timeout for it. */
const forwardMarginMs = 2_000;

/** Readys taken per round at most: each needs a wal-append slot and two apply slots. */
const readyBudgetMax = 8;

/** Fan-out waiting for room downstream, in the order it must arrive there. */
type Outgoing =
  | { readonly kind: "ready"; readonly ready: Ready }
  | { readonly kind: "apply"; readonly item: ApplyItem };

/** What the next round carries, gathered as it arrives, with whom to answer. */
class RoundBuilder {
  persisted = 0;
  appliedTo = 0;
  compact: {
    readonly index: number;
    readonly size: number;
    readonly resolve: (result: { meta: SnapshotMeta; retainFrom: number }) => void;
  } | null = null;
  ticks = 0;
  messages: Message[] = [];
  proposals: { readonly data: Uint8Array; readonly item: ClientItem }[] = [];
  configChanges: {
    readonly changes: readonly ConfigChange[];
    readonly context: string;
    readonly resolve: (result: ProposeResult) => void;
  }[] = [];
  transfers: { readonly to: NodeId; readonly resolve: (result: ProposeResult) => void }[] = [];
  reads: { readonly ctx: string; readonly mode: ReadMode }[] = [];
  /** Stage batches whose items this round carries: released when it completes. */
  batchesDone: (() => void)[] = [];

  isEmpty(): boolean {
    return (
      this.persisted === 0 &&
      this.appliedTo === 0 &&
      this.compact === null &&
      this.ticks === 0 &&
      this.messages.length === 0 &&
      this.proposals.length === 0 &&
      this.configChanges.length === 0 &&
      this.transfers.length === 0 &&
      this.reads.length === 0
    );
  }
}

/**
 * Stage 2: drives the Raft core. Client requests become proposals or ReadIndex requests, peer
 * messages are stepped, a timer ticks; then every Ready is fanned out — messages to replicate,
 * durable state to wal-append, committed entries and safe reads to apply. The core is reached
 * in rounds (raft-core.ts): inline on the event loop, or in a worker thread; one round runs at
 * a time and carries everything gathered since the last. A Ready is taken only when
 * wal-append and apply have room for it, so nothing the core hands out is ever dropped.
 */
export class RaftStepStage implements RaftStepPort {
  readonly stage: Stage<RaftStepItem>;
  private timer: NodeJS.Timeout | null = null;
  private readonly pendingReads = new Map<string, ClientItem>();
  private readSeq = 0;
  private forwardSeq = 0;
  /** Requests forwarded, by forward id: the leader they went to (only it may answer) and
   * when this node stops waiting for it. */
  private readonly forwarded = new Map<
    number,
    { item: ClientItem; leader: NodeId; deadline: number }
  >();
  private lastRole: string;
  /** followersLostEntries already logged. */
  private lostEntriesLogged = 0;
  /** dropped: reads skipped because their client had gone; strayForwardReplies: see below. */
  stats = {
    readies: 0,
    proposals: 0,
    forwarded: 0,
    refused: 0,
    dropped: 0,
    rounds: 0,
    strayForwardReplies: 0,
  };

  private readonly admin: AdminOps;
  private readonly removal: Removal;
  private next = new RoundBuilder();
  /** A round is running (inline: on the stack; workers: awaiting the worker). */
  private busy = false;
  private readonly outbox: Outgoing[] = [];
  private outboxHead = 0;
  /** Readys fanned out to wal-append and not yet durable, oldest first. */
  private readonly inWal: Ready[] = [];
  private stopped = false;
  /** The round a worker is running, if any. */
  private inflight: Promise<void> | null = null;

  constructor(
    private readonly core: RaftCore,
    private readonly ports: RaftStepPorts,
    private readonly directory: MemberDirectory,
    private readonly options: RaftStepOptions,
    private readonly log: Logger,
  ) {
    const adminCore: AdminCore = {
      status: () => this.core.status(),
      configContext: () => this.core.view().configContext,
      proposeConfigChange: (changes, context) =>
        new Promise((resolve) => {
          this.next.configChanges.push({ changes, context, resolve });
          this.run();
        }),
      transferLeadership: (to) =>
        new Promise((resolve) => {
          this.next.transfers.push({ to, resolve });
          this.run();
        }),
    };
    this.admin = new AdminOps(
      adminCore,
      directory,
      ports.respond,
      options.adminTimeoutMs,
      log.child({ part: "admin" }),
    );
    this.removal = new Removal(
      { status: () => this.core.status(), configIndex: () => this.core.view().configIndex },
      ports.replicate,
      directory,
      (reason) => {
        this.log.warn(
          { group: core.group, term: core.status().term, reason },
          "the member has been permanently removed from the cluster",
        );
        ports.removed?.(reason);
      },
      log.child({ part: "removal" }),
    );
    this.learnMembers(core.view().configContext);
    this.stage = new Stage<RaftStepItem>("raft-step", (batch) => this.handle(batch), {
      capacityItems: options.capacityItems,
      batch: { maxItems: options.batchItems },
      concurrency: 1,
      poolKind: core.pool,
      poolSize: 1,
    });
    this.stage.on("error", (error) => this.fatal(error));
    this.lastRole = core.status().role;
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.options.tickMs);
    this.run();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** After the pipeline drained: no more rounds; the round out (if any) finishes first. */
  async close(): Promise<void> {
    this.stop();
    this.stopped = true;
    await this.inflight;
    await this.core.close();
  }

  offer(item: RaftStepItem): boolean {
    return this.stage.offer(item);
  }

  snapshot(): StageSnapshot {
    return this.stage.snapshot();
  }

  status(): RaftStatus {
    return this.core.status();
  }

  /** The core's state for /dashboard and /metrics (with workers: as of the last round). */
  view(): CoreView {
    return this.core.view();
  }

  get pool(): "inline" | "workers" {
    return this.core.pool;
  }

  private fatal(error: unknown): void {
    // An assertion in the core, a dead core worker, or a Ready half fanned out: nothing sound
    // can follow.
    this.ports.fatal(error, { stage: "raft-step", message: "raft-step failed; stopping the node" });
  }

  private tick(): void {
    this.next.ticks++;
    this.admin.expire(Date.now());
    this.admin.autopilot();
    this.removal.tick();
    this.expireForwarded();
    this.run();
  }

  private handle(batch: RaftStepItem[]): void | Promise<void> {
    for (const item of batch) {
      if (item.kind === "peer") {
        for (const message of item.messages) this.next.messages.push(message);
        const first = item.messages[0];
        if (first !== undefined) this.removal.heard(first.from);
      } else this.handleClient(item);
    }
    if (this.core.pool === "inline" || this.next.isEmpty()) {
      // Inline the round runs now; a batch that gave the core nothing (stale reads, status)
      // need not wait for a worker's round.
      this.run();
      return;
    }
    // The stage takes its next batch once this one's round is done: one round in flight.
    const done = new Promise<void>((resolve) => this.next.batchesDone.push(resolve));
    this.run();
    return done;
  }

  /** A peer's "you were removed" notice (stages/removal.ts decides whether to believe it). */
  onRemovedNotice(from: NodeId, notice: RemovedNotice): void {
    this.removal.onNotice(from, notice);
  }

  private handleClient(item: ClientItem): void {
    const { request } = item;
    if (this.removal.isRemoved) {
      this.refuse(item, ErrorCode.unavailable, "this node was removed from the cluster");
      return;
    }
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
            result: { members: this.directory.view(this.core.status().config) },
          },
        });
        return;
      default:
        break;
    }
    if (!leaderOps[request.op]) this.handleRead(item);
    else if (this.core.status().role !== "leader") this.notLeader(item);
    else if (writeOps[request.op] || request.op === "snapshot") this.handleWrite(item);
    else this.admin.handle(item);
  }

  /** The contract's status fields (also the start of /health). */
  statusResult(): Record<string, unknown> {
    const status = this.core.status();
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
      // Storage faults (issue #10): see docs/raft.md, "Lost entries".
      followersLostEntries: status.followersLostEntries,
      catchUpIndex: status.catchUpIndex,
    };
  }

  private handleWrite(item: ClientItem): void {
    // The apply stage must be able to take the waiter (and this round's other waiters), and
    // nothing may be waiting for room already: then nothing can be lost after proposing.
    const waiters = this.next.proposals.length + 1;
    if (this.outboxSize() > 0 || !this.ports.apply.hasRoom(waiters, 0)) {
      this.refuse(item, ErrorCode.overloaded, "the apply stage is full; retry later");
      return;
    }
    const command = toLogCommand(item.request, Date.now(), this.options.vectorDefaults);
    this.next.proposals.push({ data: encodeCommand(command), item });
  }

  /** The core answered a proposal: the waiter goes to apply ahead of any Ready that commits it. */
  private proposed(item: ClientItem, result: ProposeResult): void {
    if (!result.ok) {
      if (result.reason === "not-leader") {
        this.notLeader(item); // Leadership moved since the request was routed here.
        return;
      }
      const code = result.reason === "too-large" ? ErrorCode.overloaded : ErrorCode.unavailable;
      this.refuse(item, code, `proposal refused: ${result.reason}`);
      return;
    }
    this.stats.proposals++;
    this.push({
      kind: "apply",
      item: {
        kind: "wait",
        index: result.index,
        term: result.term,
        target: item.target,
        request: item.request,
        deadline: item.deadline,
      },
    });
  }

  private handleRead(item: ClientItem): void {
    // Nobody would take the answer: skip the read (the costly part) rather than serve it.
    if (this.ports.respond.room?.(item.target) === "gone") {
      this.stats.dropped++;
      return;
    }
    const request = item.request as Extract<ClientRequest, { consistency: unknown }>;
    if (request.consistency === "stale") {
      this.offerRead(item, 0);
      return;
    }
    const status = this.core.status();
    if (status.leader === null) {
      this.refuse(item, ErrorCode.unavailable, "no leader is known right now");
      return;
    }
    if (status.role !== "leader" && !this.options.forwarding) {
      // Without forwarding a follower sends linearizable and lease reads to the leader too.
      this.notLeader(item);
      return;
    }
    const ctx = `${status.id}:${++this.readSeq}`;
    this.pendingReads.set(ctx, item);
    // A follower's core asks the leader for the read index; the read is then served locally.
    this.next.reads.push({ ctx, mode: request.consistency });
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
    const leader = this.core.status().leader;
    if (leader === null) {
      this.refuse(item, ErrorCode.unavailable, "no leader is known right now");
      return;
    }
    if (this.options.forwarding && item.target.kind === "local") {
      const forwardId = ++this.forwardSeq;
      if (
        this.ports.replicate.forward(leader, forwardId, item.target.id, item.request, item.admin)
      ) {
        // The leader times the request from when it gets it (an admin op: adminTimeoutMs), and
        // answers TIMEOUT itself: never give up before it does.
        const deadline =
          (adminOps[item.request.op] ? Date.now() + this.options.adminTimeoutMs : item.deadline) +
          forwardMarginMs;
        this.forwarded.set(forwardId, { item, leader, deadline });
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

  /**
   * The leader answered a request this node forwarded. A reply from any other peer is dropped
   * (counted, logged once): it would answer a client with words the leader never said.
   */
  onForwardReply(forwardId: number, from: NodeId): ClientItem | null {
    const pending = this.forwarded.get(forwardId);
    if (pending === undefined) return null;
    if (pending.leader !== from) {
      if (this.stats.strayForwardReplies++ === 0)
        this.log.warn(
          { forwardId, from, leader: pending.leader },
          "a forward reply from a peer the request was not forwarded to: dropped",
        );
      return null;
    }
    this.forwarded.delete(forwardId);
    return pending.item;
  }

  private expireForwarded(): void {
    if (this.forwarded.size === 0 && this.pendingReads.size === 0) return;
    const now = Date.now();
    for (const [forwardId, { item, deadline }] of this.forwarded) {
      if (deadline > now) continue;
      this.forwarded.delete(forwardId);
      this.refuse(
        item,
        ErrorCode.timeout,
        "the leader did not answer in time; the write may or may not have been applied",
      );
    }
    for (const [ctx, item] of this.pendingReads) {
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

  // ------------------------------------------------------------ rounds

  /** Run rounds until nothing is gathered; with workers this returns while a round is out. */
  private run(): void {
    if (this.busy) return; // The running loop picks up what was just gathered.
    this.busy = true;
    try {
      for (;;) {
        this.drainOutbox();
        const budget = this.readyBudget();
        if (!this.hasWork(budget)) break;
        const round = this.next;
        this.next = new RoundBuilder();
        const waits = this.admin.pending();
        const output = this.core.round(this.inputOf(round, waits, budget));
        if (output instanceof Promise) {
          this.inflight = output
            .then((result) => {
              this.absorb(round, waits, result);
              this.inflight = null;
              this.busy = false;
              this.run();
            })
            .catch((error: unknown) => this.fatal(error));
          return; // busy stays set until the worker answers and its output is absorbed.
        }
        this.absorb(round, waits, output);
      }
    } catch (error) {
      this.fatal(error);
    }
    this.busy = false;
  }

  private hasWork(budget: number): boolean {
    if (this.stopped) return false;
    return (
      !this.next.isEmpty() ||
      this.next.batchesDone.length > 0 ||
      (budget > 0 && this.core.hasReady())
    );
  }

  private inputOf(round: RoundBuilder, waits: readonly AdminWait[], budget: number): RoundInput {
    return {
      group: this.core.group,
      persisted: round.persisted,
      appliedTo: round.appliedTo,
      compact: round.compact && { index: round.compact.index, size: round.compact.size },
      ticks: round.ticks,
      messages: round.messages,
      proposals: round.proposals.map((proposal) => proposal.data),
      configChanges: round.configChanges.map(({ changes, context }) => ({ changes, context })),
      transfers: round.transfers.map(({ to }) => to),
      reads: round.reads,
      conditions: waits.map((wait) => wait.condition),
      readyBudget: budget,
    };
  }

  private absorb(round: RoundBuilder, waits: readonly AdminWait[], output: RoundOutput): void {
    this.stats.rounds++;
    round.proposals.forEach(({ item }, k) => {
      this.proposed(item, output.proposals[k]!);
    });
    round.configChanges.forEach(({ resolve }, k) => {
      resolve(output.configChanges[k]!);
    });
    round.transfers.forEach(({ resolve }, k) => {
      resolve(output.transfers[k]!);
    });
    if (round.compact !== null) {
      const { meta } = output.compacted!;
      const status = this.core.status();
      this.log.info(
        { group: this.core.group, term: status.term, index: meta.index, bytes: meta.size },
        "snapshot taken, log compacted",
      );
      round.compact.resolve(output.compacted!);
    }
    this.admin.settle(waits, output.conditions);
    this.noteLostEntries();
    for (const ready of output.readies) this.push({ kind: "ready", ready });
    this.drainOutbox();
    for (const done of round.batchesDone) done();
  }

  /**
   * Readys downstream has room for: one wal-append slot and two apply slots each, behind the
   * waiters of the round's proposals (which go to apply first).
   */
  private readyBudget(): number {
    if (this.outboxSize() > 0) return 0;
    const waiters = this.next.proposals.length;
    let budget = 0;
    while (
      budget < readyBudgetMax &&
      this.ports.wal.hasRoom(budget + 1, 0) &&
      this.ports.apply.hasRoom(waiters + 2 * (budget + 1), 0)
    )
      budget++;
    return budget;
  }

  /** Nothing gathered, no round out, nothing waiting for room: for a drain at shutdown. */
  async settled(): Promise<void> {
    await this.stage.idle();
    while (this.inflight !== null) await this.inflight;
  }

  private push(outgoing: Outgoing): void {
    this.outbox.push(outgoing);
  }

  private outboxSize(): number {
    return this.outbox.length - this.outboxHead;
  }

  /** Fan out in order while downstream has room; the rest waits for kick(). */
  private drainOutbox(): void {
    while (this.outboxHead < this.outbox.length) {
      const next = this.outbox[this.outboxHead]!;
      if (next.kind === "apply") {
        if (!this.ports.apply.hasRoom(1, 0)) break;
        this.outboxHead++; // Before handing on: a port that calls back finds it taken.
        if (!this.ports.apply.offer(next.item))
          throw new Error("apply refused an item it had room for");
      } else {
        if (!this.ports.wal.hasRoom(1, 0) || !this.ports.apply.hasRoom(1, 0)) break;
        this.outboxHead++;
        this.dispatch(next.ready);
      }
    }
    if (this.outboxHead === this.outbox.length) {
      this.outbox.length = 0;
      this.outboxHead = 0;
    }
  }

  kick(): void {
    this.run();
  }

  /** New members' addresses arrive in configuration entries: connect to them at once. */
  private learnMembers(context: string): void {
    for (const member of this.directory.mergeContext(context)) {
      if (member.name !== this.core.id) this.ports.replicate.addPeer(member.name, member.peer);
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
    this.inWal.push(ready); // First: a WAL that acknowledged at once must find it.
    if (!this.ports.wal.offer({ kind: "ready", ready }))
      throw new Error("wal-append refused a Ready it had room for");
    if (
      ready.committed.length > 0 &&
      !this.ports.apply.offer({ kind: "committed", entries: ready.committed })
    ) {
      throw new Error("apply refused committed entries it had room for");
    }
    for (const state of ready.readStates) {
      const item = this.pendingReads.get(state.ctx);
      if (item === undefined) continue;
      this.pendingReads.delete(state.ctx);
      if (state.ok) this.offerRead(item, state.index);
      else
        this.refuse(
          item,
          ErrorCode.unavailable,
          "leadership changed before the read was confirmed",
        );
    }
  }

  /** The core found a follower short of entries it had acknowledged: say so (it repairs it). */
  private noteLostEntries(): void {
    const status = this.core.status();
    if (status.followersLostEntries === this.lostEntriesLogged) return;
    this.lostEntriesLogged = status.followersLostEntries;
    const lost = status.lastLostEntries;
    this.log.warn(
      {
        group: this.core.group,
        term: status.term,
        index: lost?.matchIndex,
        follower: lost?.peer,
        followerIndex: lost?.lastIndex,
      },
      "a follower lost entries it had acknowledged (its storage lost synced writes); replicating them again",
    );
  }

  private logRoleChange(ready: Ready): void {
    const soft = ready.softState!;
    if (soft.role === this.lastRole && soft.role !== "leader") return;
    this.lastRole = soft.role;
    this.log.info(
      {
        group: this.core.group,
        term: soft.term,
        index: ready.entries.at(-1)?.index ?? this.core.status().lastIndex,
        role: soft.role,
        leader: soft.leader,
      },
      soft.role === "leader" ? "became leader" : `now ${soft.role}`,
    );
  }

  onPersisted(ready: Ready): void {
    const oldest = this.inWal.shift();
    if (oldest !== ready) this.fatal(new Error("wal-append reported Readys out of order"));
    if (ready.persistedMessages.length > 0) this.ports.replicate.send(ready.persistedMessages);
    this.next.persisted++;
    this.run();
  }

  onApplied(index: number): void {
    this.next.appliedTo = Math.max(this.next.appliedTo, index);
    this.run();
  }

  compact(index: number, size: number): Promise<{ meta: SnapshotMeta; retainFrom: number }> {
    return new Promise((resolve) => {
      if (this.next.compact !== null) throw new Error("a compaction is already on its way");
      this.next.compact = { index, size, resolve };
      this.run();
    });
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
