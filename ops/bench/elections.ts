/**
 * Elections during a phase: polls every node's term and leader (BenchCluster.terms) and counts
 * the terms that began (each election, won or not, starts one) and the leader changes seen.
 * A leader change that starts and ends between two polls is still counted by its term.
 */
import type { BenchCluster, NodeTerm } from "./processes.js";

export interface ElectionCount {
  /** Highest term any node reported at the end minus at the start: elections started. */
  readonly termsStarted: number;
  /** Times the agreed (leader, term) pair changed between polls. */
  readonly leaderChanges: number;
  readonly termStart: number | null;
  readonly termEnd: number | null;
}

/** The highest term, and the leader the node with that term follows. */
export function highest(terms: readonly (NodeTerm | null)[]): NodeTerm | null {
  let best: NodeTerm | null = null;
  for (const term of terms)
    if (term !== null && (best === null || term.term > best.term)) best = term;
  return best;
}

export class ElectionWatcher {
  private first: NodeTerm | null = null;
  private last: NodeTerm | null = null;
  private changes = 0;
  private polling = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly cluster: BenchCluster,
    intervalMs = 250,
  ) {
    this.timer = setInterval(() => void this.poll(), intervalMs);
    void this.poll();
  }

  /** Reads the terms once (the timer calls it; a test may too). */
  async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      this.see(highest(await this.cluster.terms()));
    } finally {
      this.polling = false;
    }
  }

  private see(now: NodeTerm | null): void {
    if (now === null || now.leader === null) return;
    this.first ??= now;
    if (this.last !== null && (now.term !== this.last.term || now.leader !== this.last.leader))
      this.changes++;
    this.last = now;
  }

  async stop(): Promise<ElectionCount> {
    clearInterval(this.timer);
    while (this.polling) await new Promise((resolve) => setTimeout(resolve, 20));
    await this.poll();
    return {
      termsStarted:
        this.first === null || this.last === null
          ? 0
          : Math.max(0, this.last.term - this.first.term),
      leaderChanges: this.changes,
      termStart: this.first?.term ?? null,
      termEnd: this.last?.term ?? null,
    };
  }
}
