import { assert } from "./assert.js";
import type { NodeId } from "./types.js";

export interface PendingRead {
  readonly ctx: string;
  /** The leader's commitIndex when the read arrived: the read is served at or after it. */
  readonly index: number;
  readonly seq: number;
  /** Who asked: the leader itself, or a follower that forwarded the read. */
  readonly from: NodeId;
}

/**
 * ReadIndex rounds (Raft thesis §6.4). Each read gets a sequence number; heartbeats carry the
 * highest one, and once a quorum echoes a sequence number every read up to it is confirmed —
 * one heartbeat round serves any number of reads. One round at a time: reads that arrive
 * while a round is out wait for the next one, so that under load each round carries many
 * reads instead of each batch paying its own. Bounded by `capacity`.
 */
export class ReadOnlyQueue {
  private pending: PendingRead[] = [];
  private head = 0;
  lastSeq = 0;
  /** Highest sequence number sent in a heartbeat. */
  private sentSeqValue = 0;
  /** Highest sequence number a quorum echoed. */
  private confirmedSeq = 0;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.pending.length - this.head;
  }

  /** Returns false when full (the caller refuses the read). */
  add(ctx: string, index: number, from: NodeId): boolean {
    if (this.size >= this.capacity) return false;
    this.lastSeq++;
    this.pending.push({ ctx, index, seq: this.lastSeq, from });
    return true;
  }

  /** A round was sent and a quorum has not echoed it yet. */
  get roundInFlight(): boolean {
    return this.sentSeqValue > this.confirmedSeq;
  }

  /** The highest round sent: the most the leader itself can vouch for. */
  get sentSeq(): number {
    return this.sentSeqValue;
  }

  /** Reads no heartbeat has carried yet. */
  get unsent(): boolean {
    return this.lastSeq > this.sentSeqValue;
  }

  /** A heartbeat carrying lastSeq went out. */
  sent(): void {
    this.sentSeqValue = this.lastSeq;
  }

  /** Every read confirmed by a quorum echo of `seq`, oldest first. */
  release(seq: number): PendingRead[] {
    assert(seq <= this.sentSeqValue, "read-only: a quorum echoed a round never sent");
    this.confirmedSeq = Math.max(this.confirmedSeq, seq);
    const released: PendingRead[] = [];
    while (this.head < this.pending.length && this.pending[this.head]!.seq <= seq) {
      released.push(this.pending[this.head]!);
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
    return released;
  }

  /** Leadership is lost: every pending read fails. */
  drain(): PendingRead[] {
    const all = this.pending.slice(this.head);
    this.pending = [];
    this.head = 0;
    this.sentSeqValue = this.lastSeq;
    this.confirmedSeq = this.lastSeq;
    return all;
  }
}
