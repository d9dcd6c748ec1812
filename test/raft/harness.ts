/**
 * A tiny deterministic in-memory driver for raft/ cores, for unit tests. It owns several
 * RaftNodes and a FIFO "network" queue; tests deliver chosen messages by hand or everything
 * pending (stabilize). A Ready is persisted at once (advance right away) unless a node's
 * persistence is held. Messages to or from isolated nodes (or matching a drop filter) are
 * dropped. InstallSnapshot messages get their bytes attached here, as the transport would.
 */
import { chainChecksum } from "../../raft/checksum.js";
import type { RaftSettings } from "../../raft/config.js";
import { raftConfig } from "../../raft/config.js";
import { RaftNode } from "../../raft/node.js";
import { SeededRandom } from "../../raft/rand.js";
import {
  type ConfigChange,
  type Entry,
  EntryType,
  type HardState,
  type MembershipConfig,
  type Message,
  type NodeId,
  type ProposeResult,
  type ReadState,
  type Ready,
  type RestoredState,
  type SnapshotMeta,
} from "../../raft/types.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const bytes = (text: string): Uint8Array => encoder.encode(text);
export const text = (data: Uint8Array): string => decoder.decode(data);

export function config(
  voters: readonly NodeId[],
  learners: readonly NodeId[] = [],
  outgoing: readonly NodeId[] = [],
): MembershipConfig {
  return { voters, outgoing, learners };
}

export const EMPTY_CONFIG: MembershipConfig = { voters: [], outgoing: [], learners: [] };

/**
 * Entries with the given terms from `startIndex` on, linked into the checksum chain. The data
 * of an entry is a function of (term, index) only, so two logs built this way agree on their
 * checksums exactly as far as they agree on their terms (what the paper's figures assume).
 */
export function buildLog(terms: readonly number[], startIndex = 1, previousChk = 0): Entry[] {
  const entries: Entry[] = [];
  let chk = previousChk;
  terms.forEach((term, k) => {
    const index = startIndex + k;
    const data = bytes(`t${term}i${index}`);
    chk = chainChecksum(chk, term, index, EntryType.normal, data);
    entries.push({ term, index, type: EntryType.normal, data, chk });
  });
  return entries;
}

/** The terms of a node's log from firstIndex to lastIndex. */
export function termsOf(node: RaftNode): number[] {
  const terms: number[] = [];
  for (let index = node.log.firstIndex; index <= node.log.lastIndex(); index++) {
    terms.push(node.log.term(index)!);
  }
  return terms;
}

/** What survives a restart: written only when a Ready is persisted. */
export interface Disk {
  hardState: HardState;
  snapshot: { meta: SnapshotMeta; data: Uint8Array } | null;
  entries: Entry[];
  /** Chunks of an incoming InstallSnapshot. */
  incoming: { meta: SnapshotMeta; parts: Uint8Array[] } | null;
}

export interface AddOptions {
  initialConfig?: MembershipConfig;
  settings?: Partial<RaftSettings>;
  restored?: RestoredState;
  seed?: number;
}

export type MessageFilter = (m: Message) => boolean;

export class Harness {
  readonly nodes = new Map<NodeId, RaftNode>();
  readonly disks = new Map<NodeId, Disk>();
  /** Messages in flight, oldest first. */
  queue: Message[] = [];
  /** Every message handed to the network (including dropped ones), for assertions. */
  readonly sent: Message[] = [];
  readonly dropped: Message[] = [];
  readonly delivered: Message[] = [];
  readonly isolated = new Set<NodeId>();
  /** Links cut in both directions, as "a|b" with a < b. */
  readonly cutLinks = new Set<string>();
  /** Messages for which this returns true are dropped. */
  dropIf: MessageFilter | null = null;
  /** Nodes whose Readys are not persisted until persist(id) is called. */
  readonly holdPersist = new Set<NodeId>();
  readonly held = new Map<NodeId, Ready[]>();
  /** Every Ready each node handed out, in order. */
  readonly readies = new Map<NodeId, Ready[]>();
  readonly readStates = new Map<NodeId, ReadState[]>();
  /** Entries each node applied (after its latest snapshot, if any), in order. */
  readonly applied = new Map<NodeId, Entry[]>();
  readonly appliedIndex = new Map<NodeId, number>();
  /** Snapshots each node installed from a leader, with the bytes assembled from chunks. */
  readonly installed = new Map<NodeId, { meta: SnapshotMeta; data: Uint8Array }[]>();
  private readonly assembling = new Map<NodeId, { meta: SnapshotMeta; parts: Uint8Array[] }>();
  private readonly settings: Partial<RaftSettings>;
  private readonly nodeSettings = new Map<NodeId, Partial<RaftSettings>>();
  private readonly initialConfigs = new Map<NodeId, MembershipConfig>();
  private readonly seeds: SeededRandom;

  constructor(
    voters: readonly NodeId[],
    settings: Partial<RaftSettings> = {},
    readonly seed = 1,
  ) {
    this.settings = settings;
    this.seeds = new SeededRandom(seed);
    for (const id of voters) this.add(id, { initialConfig: config(voters) });
  }

  /** Create a node; a node joining later starts with an empty configuration. */
  add(id: NodeId, options: AddOptions = {}): RaftNode {
    const initialConfig = options.initialConfig ?? EMPTY_CONFIG;
    const settings = { ...this.settings, ...options.settings };
    this.nodeSettings.set(id, settings);
    this.initialConfigs.set(id, initialConfig);
    const seed = options.seed ?? this.seeds.next32();
    const node = new RaftNode(
      raftConfig({ id, group: 1, initialConfig }, settings),
      new SeededRandom(seed),
      options.restored,
    );
    this.nodes.set(id, node);
    const restored = options.restored;
    this.disks.set(id, {
      hardState: restored?.hardState ?? { term: 0, vote: null, commit: 0 },
      snapshot: null,
      entries: [...(restored?.entries ?? [])],
      incoming: null,
    });
    this.readies.set(id, []);
    this.readStates.set(id, []);
    this.applied.set(id, []);
    this.appliedIndex.set(id, node.status().appliedIndex);
    this.installed.set(id, []);
    this.held.set(id, []);
    return node;
  }

  /** Crash `id` (losing everything not persisted, held Readys included) and boot it from disk. */
  restart(id: NodeId, seed?: number): RaftNode {
    const disk = this.disks.get(id)!;
    const snapshot = disk.snapshot;
    const restored: RestoredState = {
      hardState: disk.hardState,
      snapshot: snapshot?.meta ?? null,
      entries: disk.entries,
      applied: snapshot?.meta.index ?? 0,
    };
    this.queue = this.queue.filter((m) => m.to !== id);
    this.held.set(id, []);
    this.assembling.delete(id);
    const node = new RaftNode(
      raftConfig(
        { id, group: 1, initialConfig: this.initialConfigs.get(id)! },
        this.nodeSettings.get(id)!,
      ),
      new SeededRandom(seed ?? this.seeds.next32()),
      restored,
    );
    this.nodes.set(id, node);
    this.applied.set(id, []);
    this.appliedIndex.set(id, node.status().appliedIndex);
    return node;
  }

  node(id: NodeId): RaftNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  get ids(): NodeId[] {
    return [...this.nodes.keys()];
  }

  // ------------------------------------------------------------------ network

  isolate(...ids: NodeId[]): void {
    for (const id of ids) this.isolated.add(id);
  }

  cut(a: NodeId, b: NodeId): void {
    this.cutLinks.add(a < b ? `${a}|${b}` : `${b}|${a}`);
  }

  heal(): void {
    this.isolated.clear();
    this.cutLinks.clear();
    this.dropIf = null;
  }

  private isDropped(m: Message): boolean {
    if (this.isolated.has(m.from) || this.isolated.has(m.to)) return true;
    if (this.cutLinks.has(m.from < m.to ? `${m.from}|${m.to}` : `${m.to}|${m.from}`)) return true;
    return this.dropIf?.(m) ?? false;
  }

  private send(messages: readonly Message[]): void {
    for (const m of messages) {
      this.sent.push(m);
      if (this.isDropped(m)) this.dropped.push(m);
      else this.queue.push(m);
    }
  }

  /** Remove and return queued messages matching `filter` (they are lost). */
  take<M extends Message = Message>(
    filter: ((m: Message) => m is M) | MessageFilter = () => true,
  ): M[] {
    const taken = this.queue.filter(filter) as M[];
    this.queue = this.queue.filter((m) => !filter(m));
    return taken;
  }

  /** Queued messages matching `filter`, left in the queue. */
  pending(filter: MessageFilter = () => true): Message[] {
    return this.queue.filter(filter);
  }

  /** Step one message into its recipient (attaching snapshot bytes), then process Readys. */
  stepMessage(m: Message): boolean {
    const node = this.nodes.get(m.to);
    if (node === undefined || this.isDropped(m)) {
      this.dropped.push(m);
      return false;
    }
    if (m.type === "snapshot") {
      // The transport attaches the bytes of the sender's snapshot at meta.index.
      const snapshot = this.disks.get(m.from)?.snapshot;
      if (snapshot === null || snapshot === undefined || snapshot.meta.index !== m.meta.index) {
        this.dropped.push(m);
        return false;
      }
      m.data = snapshot.data.slice(m.offset, m.offset + m.length);
    }
    this.delivered.push(m);
    node.step(m);
    this.processAll();
    return true;
  }

  /** Deliver (once, in order) every queued message matching `filter`. */
  deliver(filter: MessageFilter = () => true): Message[] {
    const batch = this.take(filter);
    for (const m of batch) this.stepMessage(m);
    return batch;
  }

  /** Deliver everything, including what that produces, until nothing is left. */
  stabilize(maxRounds = 10_000): void {
    this.processAll();
    for (let round = 0; this.queue.length > 0; round++) {
      if (round >= maxRounds)
        throw new Error(`stabilize: no quiescence after ${maxRounds} (seed ${this.seed})`);
      this.deliver();
    }
  }

  // ------------------------------------------------------------------ time

  /** Tick each of `ids` (all nodes by default) `n` times, processing Readys, delivering none. */
  tick(ids: NodeId | readonly NodeId[] = this.ids, n = 1): void {
    const list = typeof ids === "string" ? [ids] : ids;
    for (let k = 0; k < n; k++) {
      for (const id of list) this.node(id).tick();
      this.processAll();
    }
  }

  /** Tick every node once and stabilize, `n` times. */
  tickAndStabilize(n = 1, ids: readonly NodeId[] = this.ids): void {
    for (let k = 0; k < n; k++) {
      this.tick(ids);
      this.stabilize();
    }
  }

  // ------------------------------------------------------------------ Ready handling

  processAll(): void {
    for (const id of this.nodes.keys()) this.process(id);
  }

  process(id: NodeId): void {
    const node = this.node(id);
    for (let k = 0; node.hasReady(); k++) {
      if (k > 1000) throw new Error(`${id}: hasReady never settles (seed ${this.seed})`);
      const ready = node.ready();
      this.readies.get(id)!.push(ready);
      this.send(ready.messages);
      if (this.holdPersist.has(id)) {
        // Later Readys may still be handed out; they are persisted in order by persist(id).
        this.held.get(id)!.push(ready);
        continue;
      }
      this.persistReady(id, node, ready);
    }
  }

  /** Complete the held writes of `id` (in order) and release what waited on them. */
  persist(id: NodeId): void {
    const node = this.node(id);
    const held = this.held.get(id)!;
    this.held.set(id, []);
    for (const ready of held) this.persistReady(id, node, ready);
    this.processAll();
  }

  private persistReady(id: NodeId, node: RaftNode, ready: Ready): void {
    const disk = this.disks.get(id)!;
    for (const chunk of ready.snapshotChunks) {
      if (chunk.offset === 0) this.assembling.set(id, { meta: chunk.meta, parts: [] });
      this.assembling.get(id)?.parts.push(chunk.data);
    }
    if (ready.snapshot !== null) {
      const incoming = this.assembling.get(id);
      if (incoming === undefined || incoming.meta.index !== ready.snapshot.index) {
        throw new Error(
          `${id}: snapshot ${ready.snapshot.index} installed without its chunks (seed ${this.seed})`,
        );
      }
      const snapshot = { meta: ready.snapshot, data: concat(incoming.parts) };
      this.assembling.delete(id);
      disk.snapshot = snapshot;
      disk.entries = [];
      this.installed.get(id)!.push(snapshot);
      this.applied.set(id, []);
      this.appliedIndex.set(id, ready.snapshot.index);
    }
    if (ready.hardState !== null) disk.hardState = ready.hardState;
    const first = ready.entries[0];
    if (first !== undefined) {
      const base = disk.entries[0]?.index ?? first.index;
      disk.entries.length = Math.max(0, first.index - base);
      disk.entries.push(...ready.entries);
    }
    node.advance(ready);
    this.send(ready.persistedMessages);
    for (const entry of ready.committed) {
      const expected = this.appliedIndex.get(id)! + 1;
      if (entry.index !== expected) {
        throw new Error(`${id}: applied ${entry.index}, expected ${expected} (seed ${this.seed})`);
      }
      this.applied.get(id)!.push(entry);
      this.appliedIndex.set(id, entry.index);
    }
    const last = ready.committed.at(-1);
    if (last !== undefined) node.appliedTo(last.index);
    this.readStates.get(id)!.push(...ready.readStates);
  }

  // ------------------------------------------------------------------ conveniences

  /** Campaign at `id` (pre-vote if configured) and stabilize; returns the leader. */
  elect(id: NodeId): RaftNode {
    const node = this.node(id);
    node.campaign(node.config.preVote ? "pre" : "real");
    this.stabilize();
    if (node.status().role !== "leader")
      throw new Error(`elect: ${id} is ${node.status().role} (seed ${this.seed})`);
    return node;
  }

  propose(id: NodeId, data: string): ProposeResult {
    const result = this.node(id).propose(bytes(data));
    this.processAll();
    return result;
  }

  changeConfig(id: NodeId, changes: readonly ConfigChange[]): ProposeResult {
    const result = this.node(id).proposeConfigChange(changes);
    this.processAll();
    return result;
  }

  /** Snapshot the leader's "state machine" at `index`: `size` deterministic bytes. */
  compact(id: NodeId, index: number, size: number, retainEntries = 0): SnapshotMeta {
    const node = this.node(id);
    const data = new Uint8Array(size);
    for (let k = 0; k < size; k++) data[k] = (index * 31 + k * 7) & 0xff;
    const meta = node.compact(index, size, retainEntries);
    this.disks.get(id)!.snapshot = { meta, data };
    this.processAll();
    return meta;
  }

  leaders(): RaftNode[] {
    return [...this.nodes.values()].filter((n) => n.status().role === "leader");
  }

  /** Messages in the trace matching `filter`. */
  sentWhere(filter: MessageFilter): Message[] {
    return this.sent.filter(filter);
  }
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** A node restored with `terms` as its log, at `term` (defaults to its last entry's term). */
export function restoredLog(
  terms: readonly number[],
  term = terms.at(-1) ?? 0,
  commit = 0,
  vote: NodeId | null = null,
): RestoredState {
  return {
    hardState: { term, vote, commit },
    snapshot: null,
    entries: buildLog(terms),
    applied: 0,
  };
}

/** Short message type predicates. */
export const is =
  <T extends Message["type"]>(type: T, from?: NodeId, to?: NodeId) =>
  (m: Message): m is Extract<Message, { type: T }> =>
    m.type === type && (from === undefined || m.from === from) && (to === undefined || m.to === to);

/** Crafted messages, for stepping a node directly. */
export function voteRequest(
  from: NodeId,
  to: NodeId,
  term: number,
  options: { lastLogIndex?: number; lastLogTerm?: number; pre?: boolean; transfer?: boolean } = {},
): Message {
  return {
    type: "vote",
    group: 1,
    from,
    to,
    term,
    pre: options.pre ?? false,
    lastLogIndex: options.lastLogIndex ?? 0,
    lastLogTerm: options.lastLogTerm ?? 0,
    transfer: options.transfer ?? false,
  };
}

export function heartbeat(from: NodeId, to: NodeId, term: number, leaderCommit = 0): Message {
  return { type: "heartbeat", group: 1, from, to, term, leaderCommit, readSeq: 0, sentTick: 0 };
}

export function appendResp(from: NodeId, to: NodeId, term: number, index: number): Message {
  return {
    type: "appendResp",
    group: 1,
    from,
    to,
    term,
    reject: false,
    index,
    hintIndex: 0,
    hintTerm: 0,
    sentTick: 0,
  };
}

/** The nodes' logs are identical from `from` to their (equal) last index, checksums included. */
export function sameLogs(nodes: readonly RaftNode[], from = 1): string | null {
  const [first, ...rest] = nodes;
  if (first === undefined) return null;
  for (const other of rest) {
    if (other.log.lastIndex() !== first.log.lastIndex()) {
      return `${other.id} ends at ${other.log.lastIndex()}, ${first.id} at ${first.log.lastIndex()}`;
    }
    for (let index = from; index <= first.log.lastIndex(); index++) {
      if (other.log.term(index) !== first.log.term(index)) return `term differs at ${index}`;
      if (other.log.chk(index) !== first.log.chk(index)) return `chk differs at ${index}`;
    }
  }
  return null;
}
