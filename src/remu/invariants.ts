import type { Entry, NodeId, RaftStatus, ReadonlyRaftLog } from "../../raft/mod.js";

/** What the checker reads of a node: a RaftNode, or a planted fake in the checker's tests. */
export interface CheckedNode {
  readonly id: NodeId;
  readonly log: ReadonlyRaftLog;
  status(): Pick<RaftStatus, "role" | "term" | "commitIndex" | "appliedIndex">;
}
export const InvariantKind = {
  electionSafety: "election-safety",
  leaderAppendOnly: "leader-append-only",
  logMatching: "log-matching",
  leaderCompleteness: "leader-completeness",
  stateMachineSafety: "state-machine-safety",
  monotonic: "monotonic-commit-apply",
  readIndex: "read-index",
  /** Node mode: a Ready was taken from the core while downstream had no room for it. */
  readyBudget: "ready-budget",
  /** Node mode, leases (node/lease-checks.ts): ended before ttl after its last renewal. */
  leaseEarly: "lease-early",
  /** A lease its client kept alive ended though a leader acknowledged its keep-alives. */
  leaseLost: "lease-lost",
  /** An abandoned lease outlived its bound while a leader could commit. */
  leaseLate: "lease-late",
} as const;
export type InvariantKind = (typeof InvariantKind)[keyof typeof InvariantKind];

export class InvariantViolation extends Error {
  override readonly name = "InvariantViolation";
  constructor(
    readonly kind: InvariantKind,
    message: string,
  ) {
    super(`${kind}: ${message}`);
  }
}

interface Committed {
  readonly term: number;
  readonly chk: number;
}

interface NodeWatch {
  incarnation: number;
  commitIndex: number;
  appliedIndex: number;
  /** Highest index of this node's log already compared with the registry. */
  checkedIndex: number;
  leaderTerm: number;
  leaderLastIndex: number;
  leaderLastChk: number;
}

/**
 * Raft's safety properties (Figure 3), checked after every event against a global registry of
 * committed entries. Equal checksum chains stand in for equal log prefixes.
 */
export class InvariantChecker {
  /** Every index ever committed anywhere, with the entry's term and chain checksum. */
  private readonly committed = new Map<number, Committed>();
  maxCommittedIndex = 0;
  /** Highest index committed as seen in each term (the term of the node that saw it first). */
  private readonly maxIndexByCommitTerm = new Map<number, number>();
  private readonly leaders = new Map<number, NodeId>();
  private readonly watches = new Map<NodeId, NodeWatch>();
  checks = 0;

  leaderOf(term: number): NodeId | undefined {
    return this.leaders.get(term);
  }

  committedAt(index: number): Committed | undefined {
    return this.committed.get(index);
  }

  /** Check one node after an event touched it; `others` are the other nodes that are up. */
  check(raft: CheckedNode, incarnation: number, others: readonly CheckedNode[]): void {
    this.checks++;
    const watch = this.watch(raft, incarnation);
    if (raft.status().role === "leader") this.checkLeader(raft, watch);
    if (
      raft.status().commitIndex < watch.commitIndex ||
      raft.status().appliedIndex < watch.appliedIndex
    ) {
      throw new InvariantViolation(
        InvariantKind.monotonic,
        `${raft.id} commit ${watch.commitIndex}→${raft.status().commitIndex}, applied ${watch.appliedIndex}→${raft.status().appliedIndex}`,
      );
    }
    watch.commitIndex = raft.status().commitIndex;
    watch.appliedIndex = raft.status().appliedIndex;
    this.registerCommitted(raft, watch);
    for (const other of others) this.checkLogMatching(raft, other);
  }

  /** A state machine applied `entry`: it must be the entry committed at that index. */
  applied(id: NodeId, term: number, entry: Entry): void {
    const known = this.committed.get(entry.index);
    if (known === undefined) {
      this.record(entry.index, entry.term, entry.chk, term);
      return;
    }
    if (known.term !== entry.term || known.chk !== entry.chk) {
      throw new InvariantViolation(
        InvariantKind.stateMachineSafety,
        `${id} applied (${entry.index}, term ${entry.term}, chk ${entry.chk}) but (term ${known.term}, chk ${known.chk}) was committed`,
      );
    }
  }

  private watch(raft: CheckedNode, incarnation: number): NodeWatch {
    let watch = this.watches.get(raft.id);
    if (watch === undefined || watch.incarnation !== incarnation) {
      watch = {
        incarnation,
        commitIndex: raft.status().commitIndex,
        appliedIndex: raft.status().appliedIndex,
        checkedIndex: raft.log.baseIndex,
        leaderTerm: 0,
        leaderLastIndex: 0,
        leaderLastChk: 0,
      };
      this.watches.set(raft.id, watch);
    }
    return watch;
  }

  private checkLeader(raft: CheckedNode, watch: NodeWatch): void {
    const known = this.leaders.get(raft.status().term);
    if (known !== undefined && known !== raft.id) {
      throw new InvariantViolation(
        InvariantKind.electionSafety,
        `${known} and ${raft.id} both leaders of term ${raft.status().term}`,
      );
    }
    if (known === undefined) {
      this.leaders.set(raft.status().term, raft.id);
      this.checkCompleteness(raft);
    }
    const log = raft.log;
    if (watch.leaderTerm === raft.status().term) {
      const stillThere =
        watch.leaderLastIndex <= log.baseIndex ||
        log.chk(watch.leaderLastIndex) === watch.leaderLastChk;
      if (log.lastIndex() < watch.leaderLastIndex || !stillThere) {
        throw new InvariantViolation(
          InvariantKind.leaderAppendOnly,
          `${raft.id} (term ${raft.status().term}) lost or rewrote entries up to ${watch.leaderLastIndex}`,
        );
      }
    }
    watch.leaderTerm = raft.status().term;
    watch.leaderLastIndex = log.lastIndex();
    watch.leaderLastChk = log.lastChk();
  }

  /** A leader holds every entry committed in an earlier term (§5.4). */
  private checkCompleteness(raft: CheckedNode): void {
    let index = 0;
    for (const [term, maxIndex] of this.maxIndexByCommitTerm) {
      if (term < raft.status().term && maxIndex > index) index = maxIndex;
    }
    if (index === 0) return;
    const known = this.committed.get(index)!;
    if (index < raft.log.baseIndex) return; // covered by its snapshot, checked when taken
    const chk = raft.log.chk(index);
    if (chk !== known.chk) {
      throw new InvariantViolation(
        InvariantKind.leaderCompleteness,
        `${raft.id} leads term ${raft.status().term} without committed entry ${index} (has chk ${chk}, committed ${known.chk})`,
      );
    }
  }

  private registerCommitted(raft: CheckedNode, watch: NodeWatch): void {
    const log = raft.log;
    const from = Math.max(watch.checkedIndex + 1, log.baseIndex);
    for (let index = from; index <= raft.status().commitIndex; index++) {
      const term = log.term(index);
      const chk = log.chk(index);
      if (term === undefined || chk === undefined) continue;
      const known = this.committed.get(index);
      if (known === undefined) this.record(index, term, chk, raft.status().term);
      else if (known.chk !== chk || known.term !== term) {
        throw new InvariantViolation(
          InvariantKind.stateMachineSafety,
          `${raft.id} committed (${index}, term ${term}, chk ${chk}) but (term ${known.term}, chk ${known.chk}) was committed before`,
        );
      }
    }
    watch.checkedIndex = Math.max(watch.checkedIndex, raft.status().commitIndex);
  }

  private record(index: number, term: number, chk: number, commitTerm: number): void {
    this.committed.set(index, { term, chk });
    if (index > this.maxCommittedIndex) this.maxCommittedIndex = index;
    if ((this.maxIndexByCommitTerm.get(commitTerm) ?? 0) < index) {
      this.maxIndexByCommitTerm.set(commitTerm, index);
    }
  }

  /** Log Matching: same term at an index implies the same history up to it (same chk). */
  private checkLogMatching(a: CheckedNode, b: CheckedNode): void {
    const index = Math.min(a.log.lastIndex(), b.log.lastIndex());
    const termA = a.log.term(index);
    if (termA === undefined || termA !== b.log.term(index)) return;
    if (a.log.chk(index) !== b.log.chk(index)) {
      throw new InvariantViolation(
        InvariantKind.logMatching,
        `${a.id} and ${b.id} hold term ${termA} at index ${index} with different histories`,
      );
    }
  }
}
