import { assert } from "../../queues/assert.js";
import {
  type ApplyItem,
  type ReplyBody,
  type ReplyTarget,
  type RespondPort,
  requestsWaitingMax,
} from "../items.js";
import { type ClientRequest, ErrorCode } from "../protocol.js";
import type { StateMachinePort } from "./state-machine.js";

/** Reads of one connection served at once, before its room is looked at again. */
const readWindowPerConnection = 16;

export type ReadItem = Extract<ApplyItem, { kind: "read" }>;

interface WaitingRead {
  readonly index: number;
  readonly target: ReplyTarget;
  readonly request: ClientRequest;
  readonly deadline: number;
}

/** apply's counters this part moves (the same object: /health and the tests read it). */
export interface ReadStats {
  answered: number;
  reads: number;
  /** Reads answered OVERLOADED unserved: their client had too many replies unread. */
  readsRefused: number;
  /** Reads not served: their client had gone. */
  readsDropped: number;
  /** Reads answered OVERLOADED unserved: the waiting reads were at their bound. */
  readsWaitFull: number;
  /** Reads waiting now (a gauge). */
  readsWaiting: number;
  timeouts: number;
}

export interface ReadServerPorts {
  readonly machine: Pick<StateMachinePort, "read">;
  readonly respond: RespondPort;
  /** The index the state machine has applied through. */
  readonly appliedIndex: () => number;
}

/**
 * apply's reads: served at once when the applied index has reached their read index, else held
 * until it does (or until their deadline: TIMEOUT). None is read for a client that is gone or
 * that does not read what it was sent.
 */
export class ReadServer {
  /**
   * Reads waiting for appliedIndex, in arrival order (read indices only grow per node).
   * Invariant: length <= capacity (a read past it is answered OVERLOADED, not held).
   */
  private waitingReads: WaitingRead[] = [];

  constructor(
    private readonly ports: ReadServerPorts,
    private readonly stats: ReadStats,
    readonly capacity = requestsWaitingMax,
  ) {
    assert(Number.isSafeInteger(capacity) && capacity >= 1, "waiting reads: capacity >= 1");
  }

  get waiting(): number {
    return this.waitingReads.length;
  }

  /** A read confirmed at `read.index`: served now if applied that far, else held. */
  async handle(read: ReadItem): Promise<void> {
    if (read.index <= this.ports.appliedIndex()) await this.serve(read);
    else if (this.waitingReads.length >= this.capacity) {
      this.stats.readsWaitFull++;
      this.reply(read.target, {
        ok: false,
        error: {
          code: ErrorCode.overloaded,
          message: "too many reads wait for this node to apply up to their index; retry later",
        },
      });
    } else {
      this.waitingReads.push(read);
      this.counted();
    }
  }

  /** The gauge follows the held reads; the bound is checked where it changes. */
  private counted(): void {
    assert(this.waitingReads.length <= this.capacity, "waiting reads: past capacity");
    this.stats.readsWaiting = this.waitingReads.length;
  }

  /** The applied index moved: serve the reads it reached. */
  async serveReady(): Promise<void> {
    if (this.waitingReads.length === 0) return;
    const applied = this.ports.appliedIndex();
    const ready = this.waitingReads.filter((read) => read.index <= applied);
    this.waitingReads = this.waitingReads.filter((read) => read.index > applied);
    this.counted();
    // Reads are independent: LevelDB serves them in parallel from its thread pool. One
    // connection's reads go in windows, so that each window sees the replies owed before it
    // (a client that stops reading gets at most one window served past its bound).
    const lanes = new Map<number, WaitingRead[]>();
    const parallel: WaitingRead[] = [];
    for (const read of ready) {
      if (read.target.kind === "remote") parallel.push(read);
      else {
        const reads = lanes.get(read.target.connId);
        if (reads === undefined) lanes.set(read.target.connId, [read]);
        else reads.push(read);
      }
    }
    const lane = async (reads: WaitingRead[]) => {
      for (let k = 0; k < reads.length; k += readWindowPerConnection)
        await Promise.all(
          reads.slice(k, k + readWindowPerConnection).map((read) => this.serve(read)),
        );
    };
    await Promise.all([
      ...parallel.map((read) => this.serve(read)),
      ...[...lanes.values()].map(lane),
    ]);
  }

  /** Answer TIMEOUT for held reads past their deadline. */
  expire(now: number): void {
    if (!this.waitingReads.some((read) => read.deadline <= now)) return;
    for (const read of this.waitingReads.filter((r) => r.deadline <= now)) {
      this.stats.timeouts++;
      this.reply(read.target, {
        ok: false,
        error: { code: ErrorCode.timeout, message: "the read was not served in time" },
      });
    }
    this.waitingReads = this.waitingReads.filter((read) => read.deadline > now);
    this.counted();
  }

  private async serve(read: WaitingRead): Promise<void> {
    // Reads are the costly part of a reply (a large value read and encoded): none is done for
    // a client that is gone or that does not read what it was sent.
    const room = this.ports.respond.room?.(read.target) ?? "open";
    if (room === "gone") {
      this.stats.readsDropped++;
      return;
    }
    if (room === "full") {
      this.stats.readsRefused++;
      this.reply(read.target, {
        ok: false,
        error: {
          code: ErrorCode.overloaded,
          message: "too many replies wait for this connection to read them; retry later",
        },
      });
      return;
    }
    this.stats.reads++;
    let body: ReplyBody;
    try {
      body = await this.ports.machine.read(read.request, this.ports.appliedIndex());
    } catch (error) {
      // Storage failed (say a value failed its checksum): nothing is served, the client may
      // ask another node, and the error stops this one (the stage's fatal path).
      this.reply(read.target, {
        ok: false,
        error: {
          code: ErrorCode.unavailable,
          message: "this node could not read its state; ask another node",
        },
      });
      throw error;
    }
    this.reply(read.target, body);
  }

  private reply(target: ReplyTarget, body: ReplyBody): void {
    this.stats.answered++;
    this.ports.respond.reply({ target, body });
  }
}
