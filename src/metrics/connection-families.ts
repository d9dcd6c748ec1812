import type { Define } from "./define.js";

export function defineConnectionMetrics(define: Define): void {
  const plain = define.plain;
  plain(
    "gauge",
    "stageraft_client_connections",
    "Open client WebSocket connections",
    (s) => s.ingress.connections,
  );
  plain(
    "counter",
    "stageraft_client_frames_total",
    "Client frames received",
    (s) => s.ingress.frames,
  );
  plain(
    "counter",
    "stageraft_client_bad_frames_total",
    "Client frames refused as malformed (BAD_REQUEST)",
    (s) => s.ingress.badFrames,
  );
  plain(
    "counter",
    "stageraft_client_overloaded_total",
    "Client requests answered OVERLOADED (on this node's port, or forwarded to it)",
    (s) => s.ingress.overloaded,
  );
  plain(
    "counter",
    "stageraft_peer_messages_dropped_total",
    "Raft messages from peers dropped at a full raft-step queue (Raft retransmits them)",
    (s) => s.ingress.peerDropped,
  );
  plain(
    "counter",
    "stageraft_client_unauthorized_total",
    "Connections refused for a missing or wrong token",
    (s) => s.ingress.unauthorized,
  );
  plain(
    "counter",
    "stageraft_peer_frames_total",
    "Frames received from peers",
    (s) => s.ingress.peerFrames,
  );
  plain(
    "counter",
    "stageraft_peer_rejected_total",
    "Peer connections refused (a bad hello, a bad frame, no hello in time)",
    (s) => s.ingress.peerRejected,
  );
  define.gauge(
    "stageraft_peer_link_up",
    "1 while the outgoing link to a peer is connected",
    ["peer"],
    (s, put) => {
      for (const link of s.links) put(link.up ? 1 : 0, { peer: link.name });
    },
  );
  define.counter(
    "stageraft_peer_dropped_total",
    "Messages dropped on the link to a peer",
    ["peer"],
    (s, put) => {
      for (const link of s.links) put(link.dropped, { peer: link.name });
    },
  );
  plain(
    "gauge",
    "stageraft_event_loop_utilisation_ratio",
    "Fraction of time the main event loop was busy (recent)",
    (s) => s.eventLoopUtilisation,
  );
}
