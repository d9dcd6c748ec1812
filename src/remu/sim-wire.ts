import type { Message, NodeId } from "../../raft/mod.js";
import type { VirtualNetwork } from "./network.js";
import type { Recorder } from "./recorder.js";
import { requestTypes } from "./sim-event.js";
import type { SimNode } from "./sim-node.js";
import type { Trace } from "./trace.js";

/** What the wire needs of the cluster around it. */
export interface WirePorts {
  now(): number;
  readonly network: VirtualNetwork;
  readonly trace: Trace;
  readonly recorder: Recorder | null;
  node(id: NodeId): SimNode | undefined;
  /** Put a delivery on the event queue at virtual time `at`. */
  schedule(at: number, message: Message): void;
  /** A message reached a running node. */
  received(node: SimNode, message: Message): void;
}

/**
 * remu's messages between the cores: sent through the virtual network (delays, drops,
 * duplicates), delivered as events, traced and recorded on both ends. A snapshot message
 * carries its chunk's bytes, read from the sender when it is sent.
 */
export class SimWire {
  /** Requests sent (responses not counted): the lab's message-count checks. */
  requestsSent = 0;

  constructor(private readonly ports: WirePorts) {}

  send(message: Message): void {
    const { network, recorder } = this.ports;
    if (requestTypes.has(message.type)) this.requestsSent++;
    let outgoing = message;
    if (message.type === "snapshot") {
      const data = this.ports
        .node(message.from)!
        .snapshotBytes(message.meta.index, message.offset, message.length);
      if (data === null) {
        // That snapshot is gone; the leader resends a newer one.
        recorder?.sent(message, 0);
        return;
      }
      outgoing = { ...message, data };
    }
    const delays = network.schedule(outgoing);
    recorder?.sent(outgoing, delays.length);
    for (const delay of delays) this.ports.schedule(this.ports.now() + delay, outgoing);
  }

  deliver(message: Message): void {
    const { network, trace, recorder } = this.ports;
    const node = this.ports.node(message.to);
    if (node?.raft == null || !network.linkUp(message.from, message.to)) {
      network.stats.dropped++;
      trace.message(this.ports.now(), "lost", message);
      recorder?.delivered(message, false);
      return;
    }
    network.stats.delivered++;
    trace.message(this.ports.now(), "recv", message);
    recorder?.delivered(message, true);
    node.raft.step(message);
    this.ports.received(node, message);
  }
}
