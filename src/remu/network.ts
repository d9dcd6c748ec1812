import type { Message, NodeId } from "../../raft/mod.js";
import type { SeededRandom } from "../../raft/rand.js";

/** What the network does to messages; every probability is per message. */
export interface NetworkFaults {
  dropRate: number;
  duplicateRate: number;
  latencyMinMs: number;
  latencyMaxMs: number;
  /** Probability that a message is held back far longer (reordering across heartbeats). */
  longDelayRate: number;
  longDelayMaxMs: number;
}

export const reliableNetwork: NetworkFaults = {
  dropRate: 0,
  duplicateRate: 0,
  latencyMinMs: 1,
  latencyMaxMs: 5,
  longDelayRate: 0,
  longDelayMaxMs: 0,
};

export interface NetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
}

/**
 * A virtual network: who can reach whom (isolation and partitions), and for each message
 * sent, when (if ever) it arrives. Links are checked again at delivery.
 */
export class VirtualNetwork {
  faults: NetworkFaults = { ...reliableNetwork };
  readonly stats: NetworkStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0 };
  private readonly isolated = new Set<NodeId>();
  /** Partition side of each node; nodes on different sides cannot talk. */
  private readonly side = new Map<NodeId, number>();
  /** Single links cut in both directions ("a|b"): partitions that are not transitive. */
  private readonly cutLinks = new Set<string>();

  constructor(private readonly random: SeededRandom) {}

  linkUp(from: NodeId, to: NodeId): boolean {
    if (this.isolated.has(from) || this.isolated.has(to)) return false;
    if (this.cutLinks.size > 0 && this.cutLinks.has(linkKey(from, to))) return false;
    return (this.side.get(from) ?? 0) === (this.side.get(to) ?? 0);
  }

  /** Cut the link between two nodes only: each can still reach everyone else. */
  cutLink(a: NodeId, b: NodeId): void {
    this.cutLinks.add(linkKey(a, b));
  }

  isolate(id: NodeId): void {
    this.isolated.add(id);
  }

  reconnect(id: NodeId): void {
    this.isolated.delete(id);
  }

  isIsolated(id: NodeId): boolean {
    return this.isolated.has(id);
  }

  /** Split the nodes into sides; nodes not named stay on side 0. */
  partition(sides: readonly (readonly NodeId[])[]): void {
    this.side.clear();
    sides.forEach((nodes, k) => {
      for (const id of nodes) this.side.set(id, k);
    });
  }

  heal(): void {
    this.side.clear();
    this.isolated.clear();
    this.cutLinks.clear();
  }

  describe(): string {
    const sides = new Map<number, NodeId[]>();
    for (const [id, k] of this.side) sides.set(k, [...(sides.get(k) ?? []), id]);
    const parts = [...sides.values()].map((ids) => `{${ids.join(",")}}`).join(" | ");
    const isolated = [...this.isolated].join(",");
    const cut = [...this.cutLinks].join(",");
    return `${parts || "no partition"}${isolated ? `; isolated ${isolated}` : ""}${cut ? `; cut ${cut}` : ""}`;
  }

  /** Delivery delays (ms) for one message: empty when it is lost, two when duplicated. */
  schedule(message: Pick<Message, "from" | "to">): number[] {
    this.stats.sent++;
    if (!this.linkUp(message.from, message.to) || this.random.chance(this.faults.dropRate)) {
      this.stats.dropped++;
      return [];
    }
    const delays = [this.delay()];
    if (this.random.chance(this.faults.duplicateRate)) {
      this.stats.duplicated++;
      delays.push(this.delay());
    }
    return delays;
  }

  private delay(): number {
    const { latencyMinMs, latencyMaxMs, longDelayRate, longDelayMaxMs } = this.faults;
    if (this.random.chance(longDelayRate))
      return latencyMinMs + this.random.int(longDelayMaxMs + 1);
    return latencyMinMs + this.random.int(latencyMaxMs - latencyMinMs + 1);
  }
}

function linkKey(a: NodeId, b: NodeId): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}
