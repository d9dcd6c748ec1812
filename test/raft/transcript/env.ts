/**
 * The interaction environment: N RaftNodes, their disks, and one network queue. Nothing
 * happens unless a command says so: a tick, a delivered message, a processed Ready.
 */
import type {
  Entry,
  MembershipConfig,
  Message,
  NodeId,
  RaftConfig,
  RaftSettings,
  Ready,
  RestoredState,
} from "../../../raft/mod.js";
import { RaftNode, raftConfig, SeededRandom } from "../../../raft/mod.js";
import { Disk } from "./disk.js";
import { formatMessage, formatReady } from "./format.js";

export interface Peer {
  readonly id: NodeId;
  node: RaftNode;
  readonly disk: Disk;
  readonly settings: Partial<RaftSettings>;
  /** The node's resolved configuration (settings with defaults), kept by the owner. */
  readonly config: RaftConfig;
  readonly initialConfig: MembershipConfig;
  /** Index of the last entry this node applied (its state machine). */
  applied: number;
  /** Entries this node applied since it last started or installed a snapshot. */
  appliedEntries: Entry[];
  restarts: number;
  /** While not null, Readys are handed out and their messages sent, but their writes wait. */
  held: Ready[] | null;
}

export class Env {
  readonly peers = new Map<NodeId, Peer>();
  /** Messages in flight, oldest first. */
  queue: Message[] = [];
  /** Links that drop every message, as "a|b" with a < b. */
  readonly cuts = new Set<string>();
  private readonly lines: string[] = [];
  private indent = "";

  constructor(readonly seed: number) {}

  // ------------------------------------------------------------------ output

  print(...lines: string[]): void {
    for (const line of lines) this.lines.push(this.indent + line);
  }

  /** Run `body` with its output indented (stabilize's sections). */
  indented(body: () => void): void {
    const saved = this.indent;
    this.indent += "  ";
    try {
      body();
    } finally {
      this.indent = saved;
    }
  }

  takeOutput(): string[] {
    return this.lines.splice(0, this.lines.length);
  }

  // ------------------------------------------------------------------ nodes

  get ids(): NodeId[] {
    return [...this.peers.keys()];
  }

  peer(id: string | undefined): Peer {
    const peer = id === undefined ? undefined : this.peers.get(id);
    if (peer === undefined) throw new Error(`no node ${id}`);
    return peer;
  }

  createNode(id: NodeId, initialConfig: MembershipConfig, settings: Partial<RaftSettings>): Peer {
    const disk = new Disk();
    const config = raftConfig({ id, group: 1, initialConfig }, settings);
    const peer: Peer = {
      id,
      node: this.boot(config, 0),
      disk,
      settings,
      config,
      initialConfig,
      applied: 0,
      appliedEntries: [],
      restarts: 0,
      held: null,
    };
    this.peers.set(id, peer);
    return peer;
  }

  /** Crash `id` (its unsent messages and unprocessed state are lost) and boot it from disk. */
  restart(peer: Peer): void {
    peer.restarts++;
    const restored = peer.disk.restored();
    peer.node = this.boot(peer.config, peer.restarts, restored);
    peer.applied = restored.applied;
    peer.appliedEntries = [];
    peer.held = null;
  }

  private boot(config: RaftConfig, restarts: number, restored?: RestoredState): RaftNode {
    // Each node's randomness is a function of the file's seed, its id and its restarts only.
    let seed = this.seed;
    for (const c of `${config.id}#${restarts}`) {
      seed = (Math.imul(seed, 31) + c.charCodeAt(0)) >>> 0;
    }
    return new RaftNode(config, new SeededRandom(seed), restored);
  }

  /** Run `body` against `id` and print any change of its role, term or leader. */
  observe(id: NodeId, body: (node: RaftNode) => void): void {
    const peer = this.peer(id);
    const before = peer.node.status();
    body(peer.node);
    const after = peer.node.status();
    if (
      before.role !== after.role ||
      before.term !== after.term ||
      before.leader !== after.leader
    ) {
      this.print(
        `INFO ${id} is ${after.role} at term ${after.term}, leader ${after.leader ?? "none"}`,
      );
    }
  }

  // ------------------------------------------------------------------ Ready

  /** Take one Ready from `id`, print it, persist it, send, advance, apply. False: none. */
  processReady(id: NodeId): boolean {
    const peer = this.peer(id);
    if (!peer.node.hasReady()) return false;
    const ready = peer.node.ready();
    this.print(...formatReady(ready));
    this.queue.push(...ready.messages);
    if (peer.held !== null) {
      peer.held.push(ready);
      this.print(`(write held: ${peer.held.length} Ready${peer.held.length > 1 ? "s" : ""})`);
      return true;
    }
    this.complete(peer, ready);
    return true;
  }

  /** The disk write of `ready` is done: advance, send what waited for it, apply. */
  complete(peer: Peer, ready: Ready): void {
    peer.disk.persist(ready);
    this.observe(peer.id, (node) => node.advance(ready));
    this.queue.push(...ready.persistedMessages);
    this.apply(peer, ready);
  }

  private apply(peer: Peer, ready: Ready): void {
    if (ready.snapshot !== null) {
      peer.applied = ready.snapshot.index;
      peer.appliedEntries = [];
    }
    for (const entry of ready.committed) {
      if (entry.index !== peer.applied + 1) {
        throw new Error(`${peer.id} applied ${entry.index} after ${peer.applied}`);
      }
      peer.applied = entry.index;
      peer.appliedEntries.push(entry);
    }
    const last = ready.committed.at(-1);
    if (last !== undefined) peer.node.appliedTo(last.index);
  }

  // ------------------------------------------------------------------ network

  static link(a: NodeId, b: NodeId): string {
    return a < b ? `${a}|${b}` : `${b}|${a}`;
  }

  isCut(m: Message): boolean {
    return this.cuts.has(Env.link(m.from, m.to));
  }

  /** Remove and return the queued messages to `to` that match `filter`. */
  take(to: NodeId, filter: (m: Message) => boolean = () => true): Message[] {
    const taken = this.queue.filter((m) => m.to === to && filter(m));
    this.queue = this.queue.filter((m) => !(m.to === to && filter(m)));
    return taken;
  }

  /** Step `m` into its recipient, attaching snapshot bytes as the transport would. */
  deliver(m: Message): void {
    if (this.isCut(m)) {
      this.print(`dropped: ${formatMessage(m)}`);
      return;
    }
    if (m.type === "snapshot") {
      const stored = this.peer(m.from).disk.snapshot;
      if (stored === null || stored.meta.index !== m.meta.index) {
        this.print(`dropped (snapshot gone): ${formatMessage(m)}`);
        return;
      }
      m.data = stored.data.slice(m.offset, m.offset + m.length);
    }
    this.print(formatMessage(m));
    this.observe(m.to, (node) => node.step(m));
  }
}
