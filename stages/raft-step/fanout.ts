import { BoundedQueue } from "../../queues/mod.js";
import { decodeConfigEntry } from "../../raft/membership.js";
import { EntryType, type NodeId, type ReadState, type Ready } from "../../raft/types.js";
import type { ApplyItem, QueuePort, ReplicatePort, WalItem } from "../items.js";
import type { MemberDirectory } from "./members.js";
import type { CoreEvents } from "./status.js";

export interface FanoutPorts {
  readonly wal: QueuePort<WalItem>;
  readonly apply: QueuePort<ApplyItem>;
  readonly replicate: ReplicatePort;
}

/** What a Ready's fan-out tells the rest of raft-step. */
export interface FanoutParts {
  readonly self: NodeId;
  readonly events: CoreEvents;
  /** A Ready's read states: the reads they confirm go to apply (requests.ts). */
  readonly settleReads: (states: readonly ReadState[]) => void;
  /** raft-step's counters (the same object: /health and the tests read it). */
  readonly stats: { readies: number };
}

/**
 * The hand-off of each Ready the core gave out: messages to replicate, durable state to
 * wal-append, committed entries to apply, confirmed reads to requests; then, once wal-append
 * made it durable, the messages that had to wait for the fsync. Called only when wal-append
 * and apply have room (rounds.ts, Outbox).
 */
export class ReadyFanout {
  /**
   * Readys fanned out to wal-append and not yet durable, oldest first. A Ready is dispatched
   * only when this has room (rounds.ts: the Ready budget and the outbox look at it), so a full
   * one holds the core's Readys back; sized above what wal-append holds (its queue and the
   * batch it writes), it never binds before wal-append's own bound.
   */
  readonly inWal: BoundedQueue<Ready>;

  constructor(
    private readonly ports: FanoutPorts,
    private readonly directory: MemberDirectory,
    private readonly parts: FanoutParts,
    inWalCapacity: number,
  ) {
    this.inWal = new BoundedQueue({ capacityItems: inWalCapacity });
  }

  /** New members' addresses arrive in configuration entries: connect to them at once. */
  learnMembers(context: string): void {
    for (const member of this.directory.mergeContext(context)) {
      if (member.name !== this.parts.self) this.ports.replicate.addPeer(member.name, member.peer);
    }
  }

  dispatch(ready: Ready): void {
    this.parts.stats.readies++;
    if (ready.softState !== null) this.parts.events.roleChange(ready);
    if (ready.snapshot !== null) this.learnMembers(ready.snapshot.configContext ?? "");
    for (const entry of ready.entries) {
      if (entry.type === EntryType.config) this.learnMembers(decodeConfigEntry(entry.data).context);
    }
    if (ready.messages.length > 0) this.ports.replicate.send(ready.messages);
    this.inWal.pushAssumeCapacity(ready); // First: a WAL that acknowledged at once must find it.
    if (!this.ports.wal.offer({ kind: "ready", ready }))
      throw new Error("wal-append refused a Ready it had room for");
    if (
      ready.committed.length > 0 &&
      !this.ports.apply.offer({ kind: "committed", entries: ready.committed })
    ) {
      throw new Error("apply refused committed entries it had room for");
    }
    this.parts.settleReads(ready.readStates);
  }

  /** wal-append made `ready` durable: send what waited for it. */
  persisted(ready: Ready): void {
    const oldest = this.inWal.depth > 0 ? this.inWal.drain(1)[0] : undefined;
    if (oldest !== ready) throw new Error("wal-append reported Readys out of order");
    if (ready.persistedMessages.length > 0) this.ports.replicate.send(ready.persistedMessages);
  }
}
