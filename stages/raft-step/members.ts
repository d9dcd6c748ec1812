import type { MembershipConfig, NodeId } from "../../raft/types.js";

export interface MemberAddress {
  readonly name: NodeId;
  readonly peer: string;
  readonly client: string | null;
}

export interface MemberView extends MemberAddress {
  readonly voter: boolean;
}

/**
 * Where every member listens. Bootstrap members come from --initial-cluster; members added
 * later travel in the context of the configuration entry that added them (replicated, kept
 * in snapshots), so every node learns the same directory. Client addresses of bootstrap
 * members are learned from the peers' hello.
 */
export class MemberDirectory {
  private readonly members = new Map<NodeId, MemberAddress>();

  constructor(initial: ReadonlyMap<NodeId, string>) {
    for (const [name, peer] of initial) this.members.set(name, { name, peer, client: null });
  }

  /** Merge the directory carried by a configuration entry's context. */
  mergeContext(context: string): MemberAddress[] {
    // A context arrives from the log, which peers fill: anything but our shape is ignored.
    const listed = parseContext(context)?.members;
    if (!Array.isArray(listed)) return [];
    const merged: MemberAddress[] = [];
    for (const member of listed as Partial<MemberAddress>[]) {
      if (typeof member !== "object" || member === null) continue;
      if (typeof member.name !== "string" || typeof member.peer !== "string") continue;
      const client = typeof member.client === "string" ? member.client : null;
      const known = this.members.get(member.name);
      const next = {
        name: member.name,
        peer: member.peer,
        client: client ?? known?.client ?? null,
      };
      this.members.set(member.name, next);
      merged.push(next);
    }
    return merged;
  }

  /**
   * The context to write with a configuration change: the whole directory, plus `extra`, and
   * the learners the leader is to promote once they have caught up (replicated, so that a new
   * leader carries the promotion on).
   */
  context(extra?: MemberAddress, promote: readonly NodeId[] = []): string {
    const members = new Map(this.members);
    if (extra) members.set(extra.name, extra);
    return JSON.stringify({ members: [...members.values()], promote });
  }

  learnClient(name: NodeId, client: string): void {
    const known = this.members.get(name);
    if (known) this.members.set(name, { ...known, client });
  }

  get(name: NodeId): MemberAddress | undefined {
    return this.members.get(name);
  }

  /** The members of `config`, with their addresses and whether they vote. */
  view(config: MembershipConfig): MemberView[] {
    const voters = new Set([...config.voters, ...config.outgoing]);
    return [...voters, ...config.learners].map((name) => {
      const address = this.members.get(name);
      return {
        name,
        peer: address?.peer ?? "",
        client: address?.client ?? null,
        voter: voters.has(name),
      };
    });
  }
}

/** The learners a configuration's context asks the leader to promote (none when absent). */
export function promoteIntent(context: string): NodeId[] {
  const promote = parseContext(context)?.promote;
  return Array.isArray(promote) ? promote.filter((n): n is string => typeof n === "string") : [];
}

/** A configuration context as an object, or null when it is empty or not one. */
function parseContext(context: string): Record<string, unknown> | null {
  if (context === "") return null;
  try {
    const parsed: unknown = JSON.parse(context);
    return typeof parsed === "object" && parsed !== null
      ? (parsed as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}
