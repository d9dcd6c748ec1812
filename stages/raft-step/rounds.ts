import { assert } from "../../queues/assert.js";
import { BoundedQueue } from "../../queues/mod.js";
import type { ReadMode } from "../../raft/node.js";
import type {
  ConfigChange,
  Message,
  NodeId,
  ProposeResult,
  Ready,
  SnapshotMeta,
} from "../../raft/types.js";
import type { ApplyItem, ClientItem, QueuePort, WalItem } from "../items.js";
import type { AdminWait } from "./admin.js";
import type { RoundInput, RoundOutput } from "./raft-core.js";

/** Readys taken per round at most: each needs a wal-append slot and two apply slots. */
export const readyBudgetMax = 8;

/**
 * What the next round carries, gathered as it arrives, with whom to answer. Bounded by what
 * one round gathers: client requests come from at most one stage batch (with workers the stage
 * hands the next batch only when this one's round is done: `batchesDone`; inline the round runs
 * within the batch), the rest one item per timer event or admin op; run() takes it whole.
 */
export class RoundBuilder {
  persisted = 0;
  appliedTo = 0;
  compact: {
    readonly index: number;
    readonly size: number;
    readonly resolve: (result: { meta: SnapshotMeta; retainFrom: number }) => void;
  } | null = null;
  ticks = 0;
  messages: Message[] = [];
  /** Peers whose process the transport found gone (a link closed, its reconnect refused). */
  unreachable: NodeId[] = [];
  /** item null: the node's own entry (a lease expiry), whose answer goes to `proposed`. */
  proposals: {
    readonly data: Uint8Array;
    readonly item: ClientItem | null;
    readonly proposed?: (result: ProposeResult) => void;
  }[] = [];
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
      this.unreachable.length === 0 &&
      this.proposals.length === 0 &&
      this.configChanges.length === 0 &&
      this.transfers.length === 0 &&
      this.reads.length === 0
    );
  }

  /** The core's input: what was gathered, the admin conditions waited on, the Ready budget. */
  input(group: number, waits: readonly AdminWait[], budget: number): RoundInput {
    assert(this.batchesDone.length <= 1, "a round carries at most one stage batch");
    return {
      group,
      persisted: this.persisted,
      appliedTo: this.appliedTo,
      compact: this.compact && { index: this.compact.index, size: this.compact.size },
      ticks: this.ticks,
      messages: this.messages,
      unreachable: this.unreachable,
      proposals: this.proposals.map((proposal) => proposal.data),
      configChanges: this.configChanges.map(({ changes, context }) => ({ changes, context })),
      transfers: this.transfers.map(({ to }) => to),
      reads: this.reads,
      conditions: waits.map((wait) => wait.condition),
      readyBudget: budget,
    };
  }

  /**
   * Answer whom this round's inputs wait on, from the core's output (in the order they went
   * in); `proposed` gets the clients' proposals.
   */
  answer(output: RoundOutput, proposed: (item: ClientItem, result: ProposeResult) => void): void {
    this.proposals.forEach(({ item, proposed: own }, k) => {
      if (item === null) own?.(output.proposals[k]!);
      else proposed(item, output.proposals[k]!);
    });
    this.configChanges.forEach(({ resolve }, k) => {
      resolve(output.configChanges[k]!);
    });
    this.transfers.forEach(({ resolve }, k) => {
      resolve(output.transfers[k]!);
    });
    if (this.compact !== null) this.compact.resolve(output.compacted!);
  }
}

/** Fan-out waiting for room downstream, in the order it must arrive there. */
export type Outgoing =
  | { readonly kind: "ready"; readonly ready: Ready }
  | { readonly kind: "apply"; readonly item: ApplyItem };

export interface OutboxPorts {
  readonly wal: QueuePort<WalItem>;
  readonly apply: QueuePort<ApplyItem>;
  /** The Readys in wal-append and not yet durable (fanout.ts): a Ready needs a slot there too. */
  readonly inWal: { hasRoom(items: number, bytes: number): boolean };
}

/**
 * What the outbox can hold: one round's proposal waiters (a round carries one stage batch of
 * requests, and a write is admitted only while the outbox is empty: requests.ts), the round's
 * Readys (at most the budget, taken only while the outbox is empty) and one lease-due query
 * (lease-expiry.ts asks one at a time).
 */
export function outboxCapacity(batchItems: number): number {
  return batchItems + readyBudgetMax + 1;
}

/**
 * What rounds handed out and downstream had no room for yet, in order: proposals' waiters
 * (to apply) and Readys (to wal-append and apply, through `dispatch`). Nothing in it is ever
 * dropped; a Ready is taken from the core only when the outbox is empty and downstream has
 * room for it (`readyBudget`).
 */
export class Outbox {
  /** Invariant: depth <= outboxCapacity (a push past it is a broken bound: the fatal path). */
  private readonly queue: BoundedQueue<Outgoing>;
  private readyCount = 0;

  constructor(
    private readonly ports: OutboxPorts,
    private readonly dispatch: (ready: Ready) => void,
    capacityItems: number,
  ) {
    this.queue = new BoundedQueue({ capacityItems });
  }

  push(outgoing: Outgoing): void {
    this.queue.pushAssumeCapacity(outgoing);
    if (outgoing.kind === "ready") this.readyCount++;
  }

  get size(): number {
    return this.queue.depth;
  }

  get capacity(): number {
    return this.queue.capacity.items;
  }

  /** Readys taken from the core and still waiting for room: none, if the budget is right. */
  get readies(): number {
    return this.readyCount;
  }

  /** Fan out in order while downstream has room; the rest waits for the next drain. */
  drain(): void {
    for (let next = this.queue.peek(); next !== undefined; next = this.queue.peek()) {
      if (next.kind === "apply") {
        if (!this.ports.apply.hasRoom(1, 0)) break;
        this.queue.drain(1); // Before handing on: a port that calls back finds it taken.
        if (!this.ports.apply.offer(next.item))
          throw new Error("apply refused an item it had room for");
      } else {
        const { wal, apply, inWal } = this.ports;
        if (!wal.hasRoom(1, 0) || !apply.hasRoom(1, 0) || !inWal.hasRoom(1, 0)) break;
        this.queue.drain(1);
        this.readyCount--;
        this.dispatch(next.ready);
      }
    }
  }

  /**
   * Readys downstream has room for: one wal-append slot and two apply slots each, behind the
   * `waiters` of the round's proposals (which go to apply first).
   */
  readyBudget(waiters: number): number {
    if (this.size > 0) return 0;
    let budget = 0;
    while (
      budget < readyBudgetMax &&
      this.ports.wal.hasRoom(budget + 1, 0) &&
      this.ports.inWal.hasRoom(budget + 1, 0) &&
      this.ports.apply.hasRoom(waiters + 2 * (budget + 1), 0)
    )
      budget++;
    return budget;
  }
}
