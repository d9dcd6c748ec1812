import type { Logger } from "pino";
import type { Clock } from "../../queues/mod.js";
import type { NodeId, ProposeResult, ReadState } from "../../raft/types.js";
import { encodeCommand, toLogCommand, type VectorDefaults } from "../apply/commands.js";
import type {
  ApplyItem,
  ApplyQueuePort,
  ClientItem,
  ReplicatePort,
  RespondPort,
} from "../items.js";
import { adminOps, type ClientRequest, ErrorCode, leaderOps, writeOps } from "../protocol.js";
import type { AdminOps } from "./admin.js";
import { Forwarding, type ForwardingOptions, type ForwardingStats } from "./forwarding.js";
import { KeepAliveBatcher } from "./keepalive-batch.js";
import type { MemberDirectory } from "./members.js";
import type { RaftCore } from "./raft-core.js";
import { PendingReads } from "./reads.js";
import type { Removal } from "./removal.js";
import type { Outbox, RoundBuilder } from "./rounds.js";
import { contractStatus } from "./status.js";

export interface RequestsPorts {
  readonly apply: ApplyQueuePort;
  readonly respond: RespondPort;
  readonly replicate: ReplicatePort;
  readonly clock: Clock;
}

export interface RequestsOptions extends ForwardingOptions {
  /** What a vcreate without engine or params gets (resolved here, on the leader). */
  readonly vectorDefaults: VectorDefaults;
}

/** raft-step's counters this part moves (the same object: /health and the tests read it). */
export interface RequestsStats extends ForwardingStats {
  proposals: number;
  refused: number;
  /** Reads skipped because their client had gone. */
  dropped: number;
}

/** The parts of raft-step requests are routed to. */
export interface RequestsParts {
  readonly core: RaftCore;
  readonly admin: AdminOps;
  readonly removal: Removal;
  readonly outbox: Outbox;
  /** The round being gathered (raft-step swaps it when a round starts). */
  readonly round: () => RoundBuilder;
}

/**
 * raft-step's client side: each request is refused at once, answered from the core's state
 * (status, members), gathered into the next round (a proposal, a ReadIndex request), handed
 * to admin, or sent on to the leader. Proposals' waiters and confirmed reads go to apply.
 */
export class Requests {
  private readonly forwarding: Forwarding;
  private readonly pendingReads: PendingReads;
  private readonly keepAlives: KeepAliveBatcher;

  constructor(
    private readonly parts: RequestsParts,
    private readonly ports: RequestsPorts,
    private readonly directory: MemberDirectory,
    private readonly options: RequestsOptions,
    private readonly stats: RequestsStats,
    log: Logger,
  ) {
    const refuse = (item: ClientItem, code: ErrorCode, message: string) =>
      this.refuse(item, code, message);
    this.forwarding = new Forwarding(
      { replicate: ports.replicate, respond: ports.respond, refuse, now: () => ports.clock.now() },
      directory,
      options,
      stats,
      log,
    );
    this.keepAlives = new KeepAliveBatcher(
      () => ports.clock.now(),
      (item, result) => this.proposed(item, result),
    );
    this.pendingReads = new PendingReads({
      serve: (item, index) => this.offerRead(item, index),
      refuse,
    });
  }

  /** Requests waiting here: for their read index, for the leader's answer to a forward. */
  waiting(): { readIndex: number; forwards: number } {
    return { readIndex: this.pendingReads.size, forwards: this.forwarding.size };
  }

  /** The leader answered a request this node forwarded (null: not one to answer). */
  onForwardReply(forwardId: number, from: NodeId): ClientItem | null {
    return this.forwarding.onReply(forwardId, from);
  }

  /** A Ready's read states: the reads they confirm go to apply. */
  settleReads(states: readonly ReadState[]): void {
    this.pendingReads.settle(states);
  }

  /** `peer`'s process is gone: answer what was forwarded to it (forwarding.ts). */
  peerGone(peer: NodeId): void {
    this.forwarding.peerGone(peer);
  }

  /** Answer TIMEOUT for forwards and reads past their deadline. */
  expire(now: number): void {
    this.forwarding.expire(now);
    this.pendingReads.expire(now);
  }

  /** A client request (local, or forwarded by a follower) arrived at raft-step. */
  handle(item: ClientItem): void {
    const { request } = item;
    if (this.parts.removal.isRemoved) {
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
          body: { ok: true, result: contractStatus(this.parts.core.status()) },
        });
        return;
      case "members":
        this.ports.respond.reply({
          target: item.target,
          body: {
            ok: true,
            result: { members: this.directory.view(this.parts.core.status().config) },
          },
        });
        return;
      case "watch":
      case "cancel-watch":
        // Watches are served by the node the client reaches (ingress hands them to apply).
        this.refuse(item, ErrorCode.badRequest, `"${request.op}" is not forwarded between nodes`);
        return;
      default:
        break;
    }
    if (!leaderOps[request.op]) this.handleRead(item);
    else if (this.parts.core.status().role !== "leader") this.notLeader(item);
    else if (writeOps[request.op] || request.op === "snapshot") this.handleWrite(item);
    else this.parts.admin.handle(item);
  }

  private handleWrite(item: ClientItem): void {
    // The apply stage must be able to take the waiter (and this round's other waiters), and
    // nothing may be waiting for room already: then nothing can be lost after proposing.
    const round = this.parts.round();
    const waiters = this.waiters(round) + 1;
    const { apply } = this.ports;
    const full = !apply.hasRoom(waiters, 0) || apply.waitersRoom?.(waiters) === false;
    if (this.parts.outbox.size > 0 || full) {
      this.refuse(item, ErrorCode.overloaded, "the apply stage is full; retry later");
      return;
    }
    const { request } = item;
    // Keep-alives share one entry per round. One in a session stays an entry of its own: the
    // session table records it (exactly-once, CONTRACT §5), which a shared entry cannot.
    if (request.op === "lease-keepalive" && request.session === undefined) {
      this.keepAlives.add(round, item, request.lease);
      return;
    }
    const command = toLogCommand(request, this.ports.clock.now(), this.options.vectorDefaults);
    round.proposals.push({ data: encodeCommand(command), item });
  }

  /** Waiters the round's proposals hand to apply (batched keep-alives: one per client). */
  waiters(round: RoundBuilder): number {
    return round.proposals.length + this.keepAlives.extraWaiters(round);
  }

  /** The core answered a proposal: the waiter goes to apply ahead of any Ready that commits it. */
  proposed(item: ClientItem, result: ProposeResult): void {
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
    this.parts.outbox.push({
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
    const status = this.parts.core.status();
    if (status.leader === null) {
      this.refuse(item, ErrorCode.unavailable, "no leader is known right now");
      return;
    }
    if (status.role !== "leader" && !this.options.forwarding) {
      // Without forwarding a follower sends linearizable and lease reads to the leader too.
      this.notLeader(item);
      return;
    }
    const ctx = this.pendingReads.add(status.id, item);
    if (ctx === null) {
      this.refuse(
        item,
        ErrorCode.overloaded,
        "too many reads wait for their read index; retry later",
      );
      return;
    }
    // A follower's core asks the leader for the read index; the read is then served locally.
    this.parts.round().reads.push({ ctx, mode: request.consistency });
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
    this.forwarding.notLeader(item, this.parts.core.status().leader);
  }

  private refuse(item: ClientItem, code: ErrorCode, message: string): void {
    this.stats.refused++;
    this.ports.respond.reply({
      target: item.target,
      body: { ok: false, error: { code, message } },
    });
  }
}
