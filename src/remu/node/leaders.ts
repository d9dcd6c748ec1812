import type { NodeHost } from "./host.js";

/** One node's leadership of one term, as observed after events (virtual ms). */
interface Tenure {
  readonly node: string;
  readonly term: number;
  readonly from: number;
  /** Its last index when first seen leading: its term's first entry is there or before. */
  readonly firstIndex: number;
  to: number | null;
}

/**
 * Who led when, for the lease checks: every (node, term) leadership observed after each event,
 * and whether the newest leader has a quorum of live voters it is linked with both ways (the
 * cluster can commit). Leadership only changes inside events, so observing after each one
 * misses none.
 */
export class LeaderTimeline {
  private readonly tenures: Tenure[] = [];
  /**
   * The newest leader, and since when it has been committing: linked both ways with a quorum
   * of live voters, its term's first entry applied, and every entry it held `windowMs` ago
   * committed (null: not now). `held`: its last index at recent observations.
   */
  private current: {
    tenure: Tenure;
    readySince: number | null;
    held: { at: number; lastIndex: number }[];
  } | null = null;

  constructor(
    private readonly linkUp: (from: string, to: string) => boolean,
    private readonly windowMs: number,
  ) {}

  observe(now: number, hosts: readonly NodeHost[]): void {
    const leading = new Map<string, NodeHost>();
    for (const host of hosts) {
      const status = host.life?.raft.status();
      if (status?.role === "leader") leading.set(`${host.name}@${status.term}`, host);
    }
    for (const tenure of this.tenures)
      if (tenure.to === null && !leading.has(`${tenure.node}@${tenure.term}`)) tenure.to = now;
    let newest: Tenure | null = null;
    for (const [key, host] of leading) {
      const { term, lastIndex } = host.life!.raft.status();
      let tenure = this.tenures.find((t) => t.to === null && `${t.node}@${t.term}` === key);
      if (tenure === undefined) {
        tenure = { node: host.name, term, from: now, firstIndex: lastIndex, to: null };
        this.tenures.push(tenure);
      }
      if (newest === null || tenure.term > newest.term) newest = tenure;
    }
    if (newest === null) {
      this.current = null;
      return;
    }
    const leader = hosts.find((h) => h.name === newest.node)!;
    const { appliedIndex, commitIndex, lastIndex } = leader.life!.raft.status();
    const same = this.current?.tenure === newest ? this.current : null;
    const held = [...(same?.held ?? []), { at: now, lastIndex }];
    // Keep the newest observation at least windowMs old, and the ones after it.
    while (held.length > 1 && held[1]!.at <= now - this.windowMs) held.shift();
    const old = held[0]!.at <= now - this.windowMs ? held[0]!.lastIndex : 0;
    const ready =
      this.hasQuorum(leader, hosts) && appliedIndex >= newest.firstIndex && commitIndex >= old;
    const readySince = ready ? (same?.readySince ?? now) : null;
    this.current = { tenure: newest, readySince, held };
  }

  /** The newest leader, if it can commit now: since when it leads, and can commit. */
  committingSince(): { leader: string; leaderSince: number; readySince: number } | null {
    const current = this.current;
    if (current === null || current.readySince === null) return null;
    const { node, from } = current.tenure;
    return { leader: node, leaderSince: from, readySince: current.readySince };
  }

  /** The members of the newest leader's configuration (null: no leader now). */
  members(hosts: readonly NodeHost[]): Set<string> | null {
    const leader = hosts.find((h) => h.name === this.current?.tenure.node);
    const config = leader?.life?.raft.status().config;
    return config === undefined ? null : new Set([...config.voters, ...config.learners]);
  }

  /** How many (node, term) leaderships were seen. */
  get count(): number {
    return this.tenures.length;
  }

  /**
   * The longest stretch within [from, to] during which one node led one term without any of
   * `acks` (send times of acknowledged requests) falling inside it.
   */
  longestUnserved(
    from: number,
    to: number,
    acks: readonly number[],
  ): { ms: number; leader: string } {
    const sorted = [...acks].sort((a, b) => a - b);
    let best = { ms: 0, leader: "" };
    for (const tenure of this.tenures) {
      const start = Math.max(from, tenure.from);
      const end = Math.min(to, tenure.to ?? to);
      if (end <= start) continue;
      const points = [start, ...sorted.filter((t) => t > start && t < end), end];
      for (let k = 1; k < points.length; k++) {
        const ms = points[k]! - points[k - 1]!;
        if (ms > best.ms)
          best = {
            ms,
            leader: `: ${tenure.node} in term ${tenure.term}, ${points[k - 1]}–${points[k]}`,
          };
      }
    }
    return best;
  }

  private hasQuorum(leader: NodeHost, hosts: readonly NodeHost[]): boolean {
    const { config } = leader.life!.raft.status();
    const reaches = (name: string) =>
      name === leader.name ||
      (hosts.some((h) => h.name === name && h.life !== null) &&
        this.linkUp(leader.name, name) &&
        this.linkUp(name, leader.name));
    const majority = (voters: readonly string[]) =>
      voters.length === 0 || voters.filter(reaches).length * 2 > voters.length;
    return majority(config.voters) && majority(config.outgoing);
  }
}
