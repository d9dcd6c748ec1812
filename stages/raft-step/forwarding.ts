import type { Logger } from "pino";
import { assert } from "../../queues/assert.js";
import type { NodeId } from "../../raft/types.js";
import {
  type ClientItem,
  type ReplicatePort,
  type RespondPort,
  requestsWaitingMax,
} from "../items.js";
import { adminOps, ErrorCode, type RequestId } from "../protocol.js";
import type { MemberDirectory } from "./members.js";

/** A forwarded request waits this much longer than the leader's own timeout for it. */
const forwardMarginMs = 2_000;

export interface ForwardingOptions {
  /** Followers forward writes to the leader; off: NOT_LEADER with the leader's address. */
  readonly forwarding: boolean;
  /** How long the leader may take over an admin op (it answers TIMEOUT itself after). */
  readonly adminTimeoutMs: number;
}

export interface ForwardingPorts {
  readonly replicate: ReplicatePort;
  readonly respond: RespondPort;
  /** Answer `item` with an error (raft-step's refusal, counted there). */
  readonly refuse: (item: ClientItem, code: ErrorCode, message: string) => void;
  /** The stage's clock (wall ms). */
  readonly now: () => number;
}

/** raft-step's counters this part moves (the same object: /health and the tests read it). */
export interface ForwardingStats {
  forwarded: number;
  strayForwardReplies: number;
}

interface Forwarded {
  readonly item: ClientItem;
  /** The leader it went to: only it may answer. */
  readonly leader: NodeId;
  /** When this node stops waiting for it. */
  readonly deadline: number;
}

/**
 * Requests only the leader serves, arriving at a follower: forwarded to the leader (the reply
 * comes back through `onReply`; this node answers TIMEOUT if none comes), or, with forwarding
 * off, answered NOT_LEADER with the leader's client address.
 */
export class Forwarding {
  private seq = 0;
  /** Invariant: size <= capacity (a forward past it is answered OVERLOADED, not sent). */
  private readonly pending = new Map<number, Forwarded>();

  constructor(
    private readonly ports: ForwardingPorts,
    private readonly directory: MemberDirectory,
    private readonly options: ForwardingOptions,
    private readonly stats: ForwardingStats,
    private readonly log: Logger,
    readonly capacity = requestsWaitingMax,
  ) {
    assert(Number.isSafeInteger(capacity) && capacity >= 1, "forwarding: capacity >= 1");
  }

  get size(): number {
    return this.pending.size;
  }

  /** This node is not the leader; `leader` is who is, if known. */
  notLeader(item: ClientItem, leader: NodeId | null): void {
    if (leader === null) {
      this.ports.refuse(item, ErrorCode.unavailable, "no leader is known right now");
      return;
    }
    const { target } = item;
    if (this.options.forwarding && target.kind === "local") {
      this.forward(item, target.id, leader);
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

  private forward(item: ClientItem, requestId: RequestId, leader: NodeId): void {
    if (this.pending.size >= this.capacity) {
      const message = "too many requests forwarded to the leader wait for its answer; retry later";
      this.ports.refuse(item, ErrorCode.overloaded, message);
      return;
    }
    const forwardId = ++this.seq;
    if (this.ports.replicate.forward(leader, forwardId, requestId, item.request, item.admin)) {
      // The leader times the request from when it gets it (an admin op: adminTimeoutMs), and
      // answers TIMEOUT itself: never give up before it does.
      const deadline =
        (adminOps[item.request.op]
          ? this.ports.now() + this.options.adminTimeoutMs
          : item.deadline) + forwardMarginMs;
      this.pending.set(forwardId, { item, leader, deadline });
      assert(this.pending.size <= this.capacity, "forwarding: past capacity");
      this.stats.forwarded++;
      return;
    }
    this.ports.refuse(
      item,
      ErrorCode.unavailable,
      `the leader ${leader} is not reachable from this node`,
    );
  }

  /**
   * The leader answered a request this node forwarded. A reply from any other peer is dropped
   * (counted, logged once): it would answer a client with words the leader never said.
   */
  onReply(forwardId: number, from: NodeId): ClientItem | null {
    const pending = this.pending.get(forwardId);
    if (pending === undefined) return null;
    if (pending.leader !== from) {
      if (this.stats.strayForwardReplies++ === 0)
        this.log.warn(
          { forwardId, from, leader: pending.leader },
          "a forward reply from a peer the request was not forwarded to: dropped",
        );
      return null;
    }
    this.pending.delete(forwardId);
    return pending.item;
  }

  /** Answer TIMEOUT for forwards the leader has not answered by their deadline. */
  expire(now: number): void {
    this.giveUp(
      (forwarded) => forwarded.deadline <= now,
      "the leader did not answer in time; the write may or may not have been applied",
    );
  }

  /**
   * `peer`'s process is gone (the transport found its port refusing): what was forwarded to it
   * will never be answered. Answer now rather than at the deadline, so that the client retries
   * at the next leader within the failover — TIMEOUT, not UNAVAILABLE: the dead leader may have
   * appended the write, and the next leader may commit it.
   */
  peerGone(peer: NodeId): void {
    this.giveUp(
      (forwarded) => forwarded.leader === peer,
      `the leader ${peer} stopped before answering; the write may or may not have been applied`,
    );
  }

  private giveUp(which: (forwarded: Forwarded) => boolean, message: string): void {
    for (const [forwardId, forwarded] of this.pending) {
      if (!which(forwarded)) continue;
      this.pending.delete(forwardId);
      this.ports.refuse(forwarded.item, ErrorCode.timeout, message);
    }
  }
}
