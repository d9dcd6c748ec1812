import { assert } from "../../queues/assert.js";
import type { NodeId, ReadState } from "../../raft/types.js";
import { type ClientItem, requestsWaitingMax } from "../items.js";
import { ErrorCode } from "../protocol.js";

export interface PendingReadsPorts {
  /** The read index is confirmed: serve `item` once apply reaches `index`. */
  readonly serve: (item: ClientItem, index: number) => void;
  readonly refuse: (item: ClientItem, code: ErrorCode, message: string) => void;
}

/**
 * Linearizable and lease reads waiting for the core to confirm their read index, by the
 * context the core's ReadState carries back (on a follower, the leader confirms it).
 */
export class PendingReads {
  private seq = 0;
  /** Invariant: size <= capacity (add refuses past it: the caller answers OVERLOADED). */
  private readonly byCtx = new Map<string, ClientItem>();

  constructor(
    private readonly ports: PendingReadsPorts,
    readonly capacity = requestsWaitingMax,
  ) {
    assert(Number.isSafeInteger(capacity) && capacity >= 1, "pending reads: capacity >= 1");
  }

  get size(): number {
    return this.byCtx.size;
  }

  /** Park `item`; returns the context to ask the core with (null: full, not parked). */
  add(self: NodeId, item: ClientItem): string | null {
    if (this.byCtx.size >= this.capacity) return null;
    const ctx = `${self}:${++this.seq}`;
    this.byCtx.set(ctx, item);
    assert(this.byCtx.size <= this.capacity, "pending reads: past capacity");
    return ctx;
  }

  /** A Ready's read states: each read of this node is served at its index, or refused. */
  settle(states: readonly ReadState[]): void {
    for (const state of states) {
      const item = this.byCtx.get(state.ctx);
      if (item === undefined) continue;
      this.byCtx.delete(state.ctx);
      if (state.ok) this.ports.serve(item, state.index);
      else
        this.ports.refuse(
          item,
          ErrorCode.unavailable,
          "leadership changed before the read was confirmed",
        );
    }
  }

  /** Answer TIMEOUT for reads whose index was not confirmed by their deadline. */
  expire(now: number): void {
    for (const [ctx, item] of this.byCtx) {
      if (item.deadline > now) continue;
      this.byCtx.delete(ctx);
      this.ports.refuse(item, ErrorCode.timeout, "the read index was not confirmed in time");
    }
  }
}
