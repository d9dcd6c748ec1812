import { assert } from "../../raft/assert.js";
import type { RaftNode, RaftStatus, ReadMode } from "../../raft/node.js";
import { isJoint } from "../../raft/quorum.js";
import type {
  ConfigChange,
  Message,
  NodeId,
  ProposeResult,
  Ready,
  SnapshotMeta,
} from "../../raft/types.js";

/**
 * The raft-step stage talks to its Raft core in rounds: everything that arrived since the last
 * round (ticks, peer messages, proposals, reads, durability and apply acknowledgements) goes in
 * as one RoundInput, and the answers, up to readyBudget Readys and a view of the core's state
 * come back as one RoundOutput. Inline, a round is a function call on the event loop; with the
 * "workers" pool it is one message to the worker thread the group is pinned to. Either way the
 * stage sees the same sequence, so both pools share one code path above this interface.
 */
export interface RoundInput {
  readonly group: number;
  /** Readys made durable since the last round, counted in the order they were handed out. */
  readonly persisted: number;
  /** Highest index applied since the last round; 0 when none. */
  readonly appliedTo: number;
  /** The apply stage snapshotted its state up to index: compact the log. */
  readonly compact: { readonly index: number; readonly size: number } | null;
  readonly ticks: number;
  readonly messages: readonly Message[];
  /** Peers whose process the transport found gone: RaftNode.peerUnreachable. */
  readonly unreachable: readonly NodeId[];
  readonly proposals: readonly Uint8Array[];
  readonly configChanges: readonly {
    readonly changes: readonly ConfigChange[];
    readonly context: string;
  }[];
  readonly transfers: readonly NodeId[];
  readonly reads: readonly { readonly ctx: string; readonly mode: ReadMode }[];
  /** Conditions the admin operations wait for, evaluated after the round's steps. */
  readonly conditions: readonly AdminCondition[];
  /** How many Readys downstream has room for now. */
  readonly readyBudget: number;
}

export interface RoundOutput {
  readonly proposals: readonly ProposeResult[];
  readonly configChanges: readonly ProposeResult[];
  readonly transfers: readonly ProposeResult[];
  /** The snapshot's metadata, and the log's first index after compaction. */
  readonly compacted: { readonly meta: SnapshotMeta; readonly retainFrom: number } | null;
  readonly readies: readonly Ready[];
  readonly conditions: readonly boolean[];
  /** The core's state after the round: the worker pool's mirror (inline reads it live: null). */
  readonly view: CoreView | null;
}

/** What the admin operations wait for; data, so that it can be evaluated in a worker. */
export type AdminCondition =
  /** The entry (index, term) committed and the configuration settled (not joint, committed). */
  | { readonly kind: "settled"; readonly index: number; readonly term: number }
  | { readonly kind: "caughtUp"; readonly name: NodeId }
  /** A leader would take a configuration change now (or this node no longer leads). */
  | { readonly kind: "configSettled" }
  /** The transfer to `to` finished: `to` leads, or this leader gave the transfer up. */
  | { readonly kind: "transferred"; readonly to: NodeId };

export interface FollowerView {
  readonly name: NodeId;
  readonly state: string;
  readonly matchIndex: number;
  readonly nextIndex: number;
  readonly active: boolean;
}

export interface CoreView {
  readonly status: RaftStatus;
  /** Per follower replication progress; null unless this node leads. */
  readonly followers: readonly FollowerView[] | null;
  /** The history checksum at appliedIndex (null once compacted past it). */
  readonly checksumApplied: number | null;
  /** The member addresses carried by the current configuration. */
  readonly configContext: string;
  /** Index of the entry that installed the current configuration. */
  readonly configIndex: number;
  /** The core holds a Ready not yet taken. */
  readonly hasReady: boolean;
}

/** The raft-step stage's handle on one Raft group, wherever that group runs. */
export interface RaftCore {
  readonly id: NodeId;
  readonly group: number;
  readonly pool: "inline" | "workers";
  /** Inline: the live state. Workers: the state as of the last completed round. */
  view(): CoreView;
  status(): RaftStatus;
  hasReady(): boolean;
  round(input: RoundInput): RoundOutput | Promise<RoundOutput>;
  close(): Promise<void>;
}

export function coreView(raft: RaftNode): CoreView {
  const status = raft.status();
  return {
    status,
    followers:
      raft.role === "leader"
        ? [...raft.progress].map(([name, p]) => ({
            name,
            state: p.state,
            matchIndex: p.matchIndex,
            nextIndex: p.nextIndex,
            active: p.recentActive,
          }))
        : null,
    checksumApplied: raft.checksumAt(status.appliedIndex) ?? null,
    configContext: raft.membership.currentContext(),
    configIndex: raft.membership.currentIndex(),
    hasReady: raft.hasReady(),
  };
}

function holds(raft: RaftNode, condition: AdminCondition): boolean {
  switch (condition.kind) {
    case "settled":
      return (
        raft.commitIndex >= condition.index &&
        raft.log.term(condition.index) === condition.term &&
        !isJoint(raft.membership.current()) &&
        raft.membership.currentIndex() <= raft.commitIndex
      );
    case "caughtUp":
      return raft.learnerCaughtUp(condition.name);
    case "configSettled":
      // The leader's first entry of its term committed, and no configuration entry pending.
      return (
        raft.role !== "leader" ||
        (raft.log.term(raft.commitIndex) === raft.term &&
          !isJoint(raft.membership.current()) &&
          raft.membership.currentIndex() <= raft.commitIndex)
      );
    case "transferred":
      return (
        raft.leader === condition.to || (raft.role === "leader" && raft.leadTransferee === null)
      );
  }
}

/**
 * The core's side of a round, next to the RaftNode (on the event loop or in the worker). It
 * keeps the Readys handed out until they are reported durable, oldest first.
 */
export class CoreRunner {
  /**
   * The Readys in raft-step's outbox and in wal-append (fanout.ts), oldest first: at most
   * readiesInWalMax + the Ready budget, since a round hands out no more than its budget
   * (asserted below) and raft-step's budget counts the room among the Readys in wal-append.
   */
  private readonly handedOut: Ready[] = [];

  constructor(
    readonly raft: RaftNode,
    /** Entries kept behind a snapshot, so that a slightly lagging follower needs none. */
    private readonly retainEntries: number,
  ) {}

  round(input: RoundInput, withView: boolean): RoundOutput {
    const { raft } = this;
    assert(input.group === raft.config.group, `round for group ${input.group} reached another`);
    for (let k = 0; k < input.persisted; k++) {
      const ready = this.handedOut.shift();
      assert(ready !== undefined, "a Ready reported durable was never handed out");
      raft.advance(ready);
    }
    if (input.appliedTo > 0) raft.appliedTo(input.appliedTo);
    let compacted: RoundOutput["compacted"] = null;
    if (input.compact !== null) {
      const meta = raft.compact(input.compact.index, input.compact.size, this.retainEntries);
      compacted = { meta, retainFrom: raft.log.firstIndex };
    }
    // Messages before ticks: heartbeats and acks that waited for this round count first.
    for (const message of input.messages) {
      if (message.group === raft.config.group && message.to === raft.id) raft.step(message);
    }
    for (const id of input.unreachable) raft.peerUnreachable(id);
    for (let k = 0; k < input.ticks; k++) raft.tick();
    const proposals = input.proposals.map((data) => raft.propose(data));
    const configChanges = input.configChanges.map(({ changes, context }) =>
      raft.proposeConfigChange(changes, context),
    );
    const transfers = input.transfers.map((to) => raft.transferLeadership(to));
    for (const { ctx, mode } of input.reads) raft.readIndex(ctx, mode);
    const conditions = input.conditions.map((condition) => holds(raft, condition));
    const readies: Ready[] = [];
    while (readies.length < input.readyBudget && raft.hasReady()) {
      const ready = raft.ready();
      this.handedOut.push(ready);
      readies.push(ready);
    }
    assert(readies.length <= input.readyBudget, "a round handed out more Readys than its budget");
    return {
      proposals,
      configChanges,
      transfers,
      compacted,
      readies,
      conditions,
      view: withView ? coreView(raft) : null,
    };
  }
}

/** The core on the event loop: a round is a call, and the view is read live. */
export class InlineRaftCore implements RaftCore {
  readonly pool = "inline";
  private readonly runner: CoreRunner;

  constructor(
    private readonly raft: RaftNode,
    retainEntries: number,
  ) {
    this.runner = new CoreRunner(raft, retainEntries);
  }

  get id(): NodeId {
    return this.raft.id;
  }

  get group(): number {
    return this.raft.config.group;
  }

  view(): CoreView {
    return coreView(this.raft);
  }

  status(): RaftStatus {
    return this.raft.status();
  }

  hasReady(): boolean {
    return this.raft.hasReady();
  }

  round(input: RoundInput): RoundOutput {
    return this.runner.round(input, false);
  }

  async close(): Promise<void> {}
}
