import type { StageMetrics, StageSnapshot } from "../../queues/mod.js";
import type { NodeId } from "../../raft/types.js";
import type { ReplicatePort } from "../items.js";

/** One peer link as /health and the dashboard show it. */
export interface PeerLinkStatus {
  readonly name: NodeId;
  readonly address: string;
  readonly up: boolean;
  readonly dropped: number;
}

/**
 * The pipeline's links to its peers: Raft messages, forwarded requests and their replies,
 * removal notices. ReplicateStage speaks TCP; remu's virtual network (src/remu/node-mode)
 * implements the same interface.
 */
export interface Transport extends ReplicatePort {
  start(): void;
  close(): void;
  /** A peer said hello (or spoke): it is alive, retry a link that was down. */
  peerSeen(name: NodeId): void;
  /**
   * Set by the pipeline: a peer's process is gone — its link closed and an immediate
   * reconnect was refused (nothing listens on its port). A partition (silence) or a link
   * that merely resets and reconnects does not call it. A transport that cannot tell never does.
   */
  onPeerUnreachable?: (name: NodeId) => void;
  peerStatus(): PeerLinkStatus[];
  /** The outbound queue's metrics (the replicate stage's). */
  snapshot(): StageSnapshot;
  /** The outbound queue itself, when the transport has one (its times feed the histograms). */
  readonly stage?: { readonly name: string; readonly metrics: StageMetrics };
}
