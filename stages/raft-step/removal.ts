import type { Logger } from "pino";
import type { RaftStatus } from "../../raft/node.js";
import type { NodeId } from "../../raft/types.js";
import type { MemberDirectory } from "./members.js";

/** What the leader tells a node that is no longer in its committed configuration. */
export interface RemovedNotice {
  /** The sender's term and commit index when it sent the notice. */
  readonly term: number;
  readonly commitIndex: number;
}

/** What removal needs of replicate: the links, and the way to say goodbye on them. */
export interface RemovalPeers {
  peerNames(): NodeId[];
  /** Write `notice` on the link (if up), then close it and forget the peer. */
  removePeer(name: NodeId, notice: RemovedNotice | null): void;
  /** Tell a node with no link (it came back after its removal) on a one-shot connection. */
  notifyRemoved(address: string, notice: RemovedNotice): void;
}

/** A notice to one removed node goes out at most this often. */
const noticeEveryMs = 1_000;

/**
 * Removed members (CONTRACT §7: "a member that is removed stops serving clients and exits").
 * A removed node may never apply the entry that removes it (the leader stops replicating to
 * it), so the leader tells it: once the configuration that excludes it is committed, and
 * whenever it hears from it later. The node believes a notice only when it comes from a
 * leader that knows at least as much as it does (term and commit index not behind its own)
 * and the node has been a member itself: a new node that is not yet added, or a stale leader
 * that never saw the node's addition, cannot make it exit. Every node drops its link to a
 * peer once a committed configuration no longer lists it.
 */
export class Removal {
  /** This node has seen itself in its configuration (since it started). */
  private wasMember = false;
  /** This node has led (since it started). */
  private led = false;
  private removed = false;
  private readonly noticed = new Map<NodeId, number>();

  constructor(
    private readonly raft: {
      status(): RaftStatus;
      /** Index of the entry that installed the current configuration. */
      configIndex(): number;
      /** The stage's clock (wall ms). */
      now(): number;
    },
    private readonly peers: RemovalPeers,
    private readonly directory: MemberDirectory,
    private readonly onRemoved: (reason: string) => void,
    private readonly log: Logger,
  ) {}

  get isRemoved(): boolean {
    return this.removed;
  }

  /** On every tick: drop the links to peers a committed configuration no longer lists. */
  tick(): void {
    if (this.removed) return;
    const status = this.raft.status();
    const members = memberSet(status);
    if (members.has(status.id)) this.wasMember = true;
    if (status.role === "leader") this.led = true;
    if (!members.has(status.id)) {
      // Not a member (yet, or any more): its own links are none of its business. If it led,
      // its log held every committed entry, so a committed removal is first hand.
      if (!this.led || this.raft.configIndex() > status.commitIndex) return;
      this.removed = true;
      this.onRemoved("this node committed a configuration without it while it led");
      return;
    }
    const stale = this.peers.peerNames().filter((name) => !members.has(name));
    if (stale.length === 0 || this.raft.configIndex() > status.commitIndex) return;
    const notice = status.role === "leader" ? this.notice(status) : null;
    for (const name of stale) {
      this.log.info(
        { group: status.group, term: status.term, index: status.commitIndex, peer: name },
        "peer removed from the configuration; link closed",
      );
      this.peers.removePeer(name, notice);
    }
  }

  /** The leader heard from `from`: if it is not a member any more, tell it (rate-limited). */
  heard(from: NodeId): void {
    const status = this.raft.status();
    if (status.role !== "leader" || memberSet(status).has(from)) return;
    if (this.raft.configIndex() > status.commitIndex) return;
    const address = this.directory.get(from)?.peer;
    const now = this.raft.now();
    if (address === undefined || now - (this.noticed.get(from) ?? 0) < noticeEveryMs) return;
    this.noticed.set(from, now);
    this.log.info(
      { group: status.group, term: status.term, index: status.commitIndex, peer: from },
      "a removed member is still talking: telling it that it was removed",
    );
    this.peers.notifyRemoved(address, this.notice(status));
  }

  /** A peer says this node was removed: believe it only from a leader at least as current. */
  onNotice(from: NodeId, notice: RemovedNotice): void {
    const status = this.raft.status();
    const fields = { group: status.group, term: status.term, index: status.commitIndex, from };
    if (this.removed) return;
    if (
      !this.wasMember ||
      typeof notice !== "object" ||
      notice === null ||
      !Number.isSafeInteger(notice.term) ||
      !Number.isSafeInteger(notice.commitIndex) ||
      notice.term < status.term ||
      notice.commitIndex < status.commitIndex
    ) {
      this.log.warn({ ...fields, notice }, "ignored a removal notice from a peer behind this node");
      return;
    }
    this.removed = true;
    this.onRemoved(`${from} (term ${notice.term}, commit ${notice.commitIndex}) says so`);
  }

  private notice(status: RaftStatus): RemovedNotice {
    return { term: status.term, commitIndex: status.commitIndex };
  }
}

function memberSet(status: RaftStatus): Set<NodeId> {
  const { voters, outgoing, learners } = status.config;
  return new Set([...voters, ...outgoing, ...learners]);
}
