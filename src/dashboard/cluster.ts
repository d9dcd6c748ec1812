import { performance } from "node:perf_hooks";
import type { MemberView } from "../../stages/raft-step/mod.js";
import type { LocalSnapshot, MemberHealth } from "./view.js";

const peerTimeoutMs = 800;
/** Readings younger than this are reused (several pages, or a page and a direct caller). */
const peerFreshMs = 500;

interface PeerReading {
  readonly at: number;
  readonly ok: boolean;
  readonly error: string | null;
  readonly latencyMs: number | null;
  readonly health: Record<string, unknown> | null;
}

/**
 * The cluster as this node sees it: the browser reaches one node, and that node asks its
 * peers' /health (with a short timeout, at most about once a second, and only while someone
 * is watching the dashboard). Readings of members that left are forgotten.
 */
export class ClusterHealth {
  private readonly peers = new Map<string, PeerReading>();
  private peersReadAt = 0;
  private peersReading: Promise<void> | null = null;

  constructor(
    private readonly self: string,
    private readonly fetchTimeoutMs = peerTimeoutMs,
  ) {}

  /** Reads every peer's /health; callers during a read share it; fresh readings are reused. */
  read(members: readonly MemberView[]): Promise<void> {
    if (this.peersReading !== null) return this.peersReading;
    if (Date.now() - this.peersReadAt < peerFreshMs) return Promise.resolve();
    const others = members.filter((m) => m.name !== this.self && m.client !== null);
    for (const name of [...this.peers.keys()])
      if (!others.some((m) => m.name === name)) this.peers.delete(name);
    this.peersReading = Promise.all(
      others.map(async (member) => {
        const reading = await this.readPeer(healthUrl(member.client!, member.peer));
        this.peers.set(member.name, reading);
      }),
    ).then(() => {
      this.peersReadAt = Date.now();
      this.peersReading = null;
    });
    return this.peersReading;
  }

  /** Every member's health: this node's from `local`, the others' as last read. */
  members(local: LocalSnapshot, members: readonly MemberView[]): MemberHealth[] {
    const links = new Map(local.links.map((link) => [link.name, link.up]));
    const now = Date.now();
    return members.map((member): MemberHealth => {
      const base = { name: member.name, voter: member.voter, client: member.client };
      if (member.name === this.self) {
        const { raft } = local;
        return {
          ...base,
          self: true,
          peer: member.peer,
          status: "up",
          error: null,
          latencyMs: 0,
          ageMs: 0,
          role: raft.role,
          term: raft.term,
          leader: raft.leader,
          commitIndex: raft.commitIndex,
          appliedIndex: raft.appliedIndex,
          lastIndex: raft.lastIndex,
          link: null,
        };
      }
      const reading = this.peers.get(member.name);
      const health = reading?.ok ? reading.health : null;
      return {
        ...base,
        self: false,
        peer: member.peer,
        status:
          member.client === null || reading === undefined ? "unknown" : reading.ok ? "up" : "down",
        error:
          member.client === null
            ? "client address not learned yet"
            : reading === undefined
              ? "not checked yet"
              : reading.error,
        latencyMs: reading?.latencyMs ?? null,
        ageMs: reading ? now - reading.at : null,
        role: str(health?.role),
        term: num(health?.term),
        leader: str(health?.leader),
        commitIndex: num(health?.commitIndex),
        appliedIndex: num(health?.appliedIndex),
        lastIndex: num(health?.lastIndex),
        link: links.get(member.name) ?? null,
      };
    });
  }

  private async readPeer(url: string): Promise<PeerReading> {
    const started = performance.now();
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(this.fetchTimeoutMs) });
      // 503 is a node that answers but is not ready (CONTRACT §7): up, and its body says why.
      if (!response.ok && response.status !== 503) throw new Error(`HTTP ${response.status}`);
      const health = (await response.json()) as Record<string, unknown>;
      return {
        at: Date.now(),
        ok: true,
        error: null,
        latencyMs: performance.now() - started,
        health,
      };
    } catch (error) {
      const err = error as Error;
      const message =
        err.name === "TimeoutError"
          ? `no answer within ${this.fetchTimeoutMs} ms`
          : ((err.cause as Error | undefined)?.message ?? err.message);
      return { at: Date.now(), ok: false, error: message, latencyMs: null, health: null };
    }
  }
}

/** A listen address of 0.0.0.0 or :: is not where to reach a peer: use its peer host then. */
export function healthUrl(client: string, peer: string): string {
  const colon = client.lastIndexOf(":");
  let host = client.slice(0, colon);
  const port = client.slice(colon + 1);
  if (host === "0.0.0.0" || host === "::" || host === "[::]" || host === "") {
    const peerColon = peer.lastIndexOf(":");
    host = peerColon > 0 ? peer.slice(0, peerColon) : "127.0.0.1";
  }
  if (host.includes(":") && !host.startsWith("[")) host = `[${host}]`;
  return `http://${host}:${port}/health`;
}

function str(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

function num(value: unknown): number | null {
  return typeof value === "number" ? value : null;
}
