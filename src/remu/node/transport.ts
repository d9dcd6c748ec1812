import { Stage, type StageSnapshot } from "../../../queues/mod.js";
import type { Message, NodeId } from "../../../raft/types.js";
import type { ClientItem, ReplyTarget } from "../../../stages/items.js";
import {
  type ClientRequest,
  ErrorCode,
  encodeError,
  type RequestId,
} from "../../../stages/protocol.js";
import type { RemovedNotice } from "../../../stages/raft-step/removal.js";
import type { PeerGatewayPorts } from "../../../stages/replicate/mod.js";
import type { PeerLinkStatus, Transport } from "../../../stages/replicate/transport.js";

/** What a node's transport needs of the simulated cluster. */
export interface SimLinks {
  /**
   * Carry something from `from` to `to` over the virtual network (delays, drops, duplicates,
   * partitions); `arrive` runs at delivery on the receiver's front door, if it is up then.
   */
  carry(from: NodeId, to: NodeId, arrive: (edge: PeerGatewayPorts) => void): void;
  linkUp(from: NodeId, to: NodeId): boolean;
  /** Which node listens at a peer address. */
  nameOf(address: string): NodeId | undefined;
  requestTimeoutMs: number;
  now(): number;
}

/**
 * remu's Transport: the replicate stage's job done over the virtual network. What arrives
 * enters the receiver as the peer gateway hands it on (raft messages, forwarded requests with
 * admission, their replies, removal notices), so the stages see what TCP would bring them.
 */
export class SimTransport implements Transport {
  private readonly peers = new Map<NodeId, string>();
  private open = false;
  readonly stage: Stage<never>;
  stats = { messages: 0 };

  constructor(
    private readonly self: NodeId,
    peers: ReadonlyMap<NodeId, string>,
    private readonly links: SimLinks,
  ) {
    for (const [name, address] of peers) this.peers.set(name, address);
    // Only for snapshot(): the shape /health and the dashboard read.
    this.stage = new Stage<never>("replicate", () => {}, { capacityItems: 1, concurrency: 1 });
  }

  start(): void {
    this.open = true;
  }

  /** The node stopped or lost power: nothing more leaves it. */
  close(): void {
    this.open = false;
  }

  peerSeen(_name: NodeId): void {}

  peerStatus(): PeerLinkStatus[] {
    return [...this.peers].map(([name, address]) => ({
      name,
      address,
      up: this.links.linkUp(this.self, name),
      dropped: 0,
    }));
  }

  snapshot(): StageSnapshot {
    return this.stage.snapshot();
  }

  send(messages: readonly Message[]): void {
    if (!this.open) return;
    for (const message of messages) {
      this.stats.messages++;
      this.links.carry(this.self, message.to, (edge) => {
        edge.raftStep.offer({ kind: "peer", messages: [message] });
      });
    }
  }

  forward(
    to: NodeId,
    forwardId: number,
    id: RequestId,
    request: ClientRequest,
    admin: boolean,
  ): boolean {
    if (!this.open || !this.links.linkUp(this.self, to)) return false;
    const target: ReplyTarget = { kind: "remote", node: this.self, forwardId, id };
    this.links.carry(this.self, to, (edge) => {
      const deadline = this.links.now() + this.links.requestTimeoutMs;
      const item: ClientItem = { kind: "client", target, admin, request, deadline };
      if (!edge.admission.admit() || !edge.raftStep.offer(item)) {
        const error = { code: ErrorCode.overloaded, message: "the leader is overloaded" };
        edge.replyNow(target, encodeError(id, error));
      }
    });
    return true;
  }

  forwardReply(to: NodeId, forwardId: number, text: string): void {
    if (!this.open) return;
    this.links.carry(this.self, to, (edge) => edge.forwardReplied(this.self, forwardId, text));
  }

  addPeer(name: NodeId, address: string): void {
    if (name !== this.self) this.peers.set(name, address);
  }

  peerNames(): NodeId[] {
    return [...this.peers.keys()];
  }

  removePeer(name: NodeId, notice: RemovedNotice | null): void {
    if (!this.peers.delete(name) || notice === null || !this.open) return;
    this.links.carry(this.self, name, (edge) => edge.removedNotice(this.self, notice));
  }

  notifyRemoved(address: string, notice: RemovedNotice): void {
    const name = this.links.nameOf(address);
    if (name === undefined || !this.open) return;
    this.links.carry(this.self, name, (edge) => edge.removedNotice(this.self, notice));
  }
}
