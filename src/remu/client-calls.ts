import type { Entry, NodeId } from "../../raft/mod.js";
import { InvariantKind, InvariantViolation } from "./invariants.js";

interface TrackedProposal {
  readonly term: number;
  readonly data: string;
  readonly onApplied?: (applied: boolean) => void;
}

interface TrackedRead {
  readonly node: NodeId;
  readonly ackedIndexAtStart: number;
  readonly onRead?: (index: number | null) => void;
}

/**
 * The cluster's client calls in flight: proposals per node and index (acknowledged when the
 * proposing node applies them in their term), and reads, each checked against every write
 * acknowledged before it began.
 */
export class ClientCalls {
  /** Highest index of any write acknowledged to a client. */
  ackedIndex = 0;
  private readonly proposals = new Map<NodeId, Map<number, TrackedProposal>>();
  private readonly reads = new Map<string, TrackedRead>();
  private readSeq = 0;

  /** `stats`: the cluster's counters of acknowledged writes and served reads. */
  constructor(private readonly stats: { acked: number; reads: number }) {}

  /** A proposal accepted at `index`: an earlier one tracked there is told it was not applied. */
  proposed(
    id: NodeId,
    index: number,
    term: number,
    data: string,
    onApplied?: (applied: boolean) => void,
  ): void {
    let byIndex = this.proposals.get(id);
    if (byIndex === undefined) {
      byIndex = new Map();
      this.proposals.set(id, byIndex);
    }
    byIndex.get(index)?.onApplied?.(false);
    byIndex.set(index, { term, data, ...(onApplied ? { onApplied } : {}) });
  }

  /** `entry` applied on node `id`: its proposal, if tracked there, is answered. */
  applied(id: NodeId, entry: Entry): void {
    const tracked = this.proposals.get(id);
    const proposal = tracked?.get(entry.index);
    if (proposal === undefined) return;
    tracked!.delete(entry.index);
    const applied = proposal.term === entry.term;
    if (applied) {
      this.ackedIndex = Math.max(this.ackedIndex, entry.index);
      this.stats.acked++;
    }
    proposal.onApplied?.(applied);
  }

  /** Node `id` stopped leading or crashed: its proposals are answered "not applied". */
  failProposals(id: NodeId): void {
    const tracked = this.proposals.get(id);
    if (tracked === undefined) return;
    this.proposals.delete(id);
    for (const proposal of tracked.values()) proposal.onApplied?.(false);
  }

  /** A read begins at node `id`; returns its context. */
  startRead(id: NodeId, onRead?: (index: number | null) => void): string {
    const ctx = `r${++this.readSeq}`;
    this.reads.set(ctx, {
      node: id,
      ackedIndexAtStart: this.ackedIndex,
      ...(onRead ? { onRead } : {}),
    });
    return ctx;
  }

  /** The read `ctx` was served at `index` (null: it failed). */
  serveRead(id: NodeId, ctx: string, index: number | null): void {
    const read = this.reads.get(ctx);
    if (read === undefined) return;
    this.reads.delete(ctx);
    if (index !== null && index < read.ackedIndexAtStart) {
      throw new InvariantViolation(
        InvariantKind.readIndex,
        `${id} read ${ctx} at index ${index}, behind write ${read.ackedIndexAtStart} acknowledged before it began`,
      );
    }
    if (index !== null) this.stats.reads++;
    read.onRead?.(index);
  }
}
