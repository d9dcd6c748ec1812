/**
 * Safety properties checked after every block of a transcript (Raft paper, Figure 3):
 * Election Safety, Log Matching (through the checksum chain), State Machine Safety (every
 * node applies the same entry at an index) and committed entries never changing on any disk,
 * plus commit indexes that never go back within one incarnation of a node.
 */
import type { NodeId } from "../../../raft/mod.js";
import type { Env } from "./env.js";

interface Position {
  readonly term: number;
  readonly chk: number;
  readonly by: NodeId;
}

export class Invariants {
  private readonly leaders = new Map<number, NodeId>();
  private readonly committed = new Map<number, Position>();
  private readonly commits = new Map<string, number>();

  /** A description of the first violation, or null. */
  check(env: Env): string | null {
    return this.electionSafety(env) ?? this.stateMachineSafety(env) ?? this.logs(env);
  }

  private electionSafety(env: Env): string | null {
    for (const peer of env.peers.values()) {
      const status = peer.node.status();
      const incarnation = `${peer.id}#${peer.restarts}`;
      if (status.commitIndex < (this.commits.get(incarnation) ?? 0)) {
        return `${peer.id}: commit went back to ${status.commitIndex}`;
      }
      this.commits.set(incarnation, status.commitIndex);
      if (status.role !== "leader") continue;
      const other = this.leaders.get(status.term);
      if (other !== undefined && other !== peer.id) {
        return `election safety: ${other} and ${peer.id} both led term ${status.term}`;
      }
      this.leaders.set(status.term, peer.id);
    }
    return null;
  }

  private stateMachineSafety(env: Env): string | null {
    for (const peer of env.peers.values()) {
      for (const entry of peer.appliedEntries) {
        const known = this.committed.get(entry.index);
        if (known === undefined) {
          this.committed.set(entry.index, { term: entry.term, chk: entry.chk, by: peer.id });
        } else if (known.term !== entry.term || known.chk !== entry.chk) {
          return (
            `state machine safety: ${peer.id} applied ${entry.term}/${entry.index}, ` +
            `${known.by} applied ${known.term}/${entry.index}`
          );
        }
      }
    }
    return null;
  }

  private logs(env: Env): string | null {
    const seen = new Map<string, Position>();
    for (const peer of env.peers.values()) {
      const commit = peer.node.status().commitIndex;
      for (const entry of peer.disk.entries) {
        const known = this.committed.get(entry.index);
        if (entry.index <= commit && known !== undefined && known.term !== entry.term) {
          return `committed ${known.term}/${entry.index} replaced on ${peer.id}'s disk`;
        }
        const key = `${entry.term}/${entry.index}`;
        const other = seen.get(key);
        if (other !== undefined && other.chk !== entry.chk) {
          return `log matching: ${other.by} and ${peer.id} differ before ${key}`;
        }
        seen.set(key, { term: entry.term, chk: entry.chk, by: peer.id });
      }
    }
    return null;
  }
}
