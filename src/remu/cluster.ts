import {
  type ConfigChange,
  type Entry,
  type MembershipConfig,
  type NodeId,
  type ProposeResult,
  type RaftNode,
  type ReadMode,
  type Ready,
  SeededRandom,
} from "../../raft/mod.js";
import { ClientCalls } from "./client-calls.js";
import { type ClusterOptions, type ClusterSettings, clusterSettings } from "./cluster-options.js";
import { EventQueue } from "./event-queue.js";
import { InvariantChecker } from "./invariants.js";
import { type NetworkFaults, reliableNetwork, VirtualNetwork } from "./network.js";
import { type NoteKind, Recorder } from "./recorder.js";
import { beginStep, type SimEvent } from "./sim-event.js";
import { SimNode } from "./sim-node.js";
import { SimWire } from "./sim-wire.js";
import { Trace } from "./trace.js";

export type { ClusterOptions } from "./cluster-options.js";

/**
 * remu: a whole cluster of raft/ cores in one process, on a virtual clock and network, every
 * choice drawn from one seed. Every event is followed by the invariant checks.
 */
export class Cluster {
  now = 0;
  readonly random: SeededRandom;
  readonly network: VirtualNetwork;
  readonly checker = new InvariantChecker();
  readonly trace: Trace;
  readonly nodes = new Map<NodeId, SimNode>();
  /** The step recorder (ClusterOptions.record), or null when not recording. */
  readonly recorder: Recorder | null = null;
  readonly stats = {
    events: 0,
    elections: 0,
    snapshots: 0,
    snapshotsInstalled: 0,
    crashes: 0,
    acked: 0,
    reads: 0,
  };
  private readonly events = new EventQueue<SimEvent>();
  private readonly wire: SimWire;
  private readonly calls = new ClientCalls(this.stats);
  private readonly options: ClusterSettings;

  constructor(options: ClusterOptions) {
    this.options = clusterSettings(options);
    this.random = new SeededRandom(options.seed);
    this.network = new VirtualNetwork(new SeededRandom(this.random.next32()));
    this.network.faults = { ...reliableNetwork, ...options.network };
    this.trace = new Trace(this.options.traceCapacity);
    if (options.record) {
      this.recorder = new Recorder(this, options.record === true ? {} : options.record);
    }
    this.wire = new SimWire({
      now: () => this.now,
      network: this.network,
      trace: this.trace,
      recorder: this.recorder,
      node: (id) => this.nodes.get(id),
      schedule: (at, message) => this.events.push(at, { kind: "deliver", message }),
      received: (node) => this.afterInput(node),
    });
    const voters = Array.from({ length: options.nodes }, (_, k) => `n${k + 1}`);
    for (const id of voters) this.addNode(id, { voters, outgoing: [], learners: [] });
  }

  /** Create (and start) a node; a node joining later starts with an empty configuration. */
  addNode(
    id: NodeId,
    initialConfig: MembershipConfig = { voters: [], outgoing: [], learners: [] },
  ): SimNode {
    const drift = this.options.clockDrift;
    const rate = 1 + drift * (2 * this.random.float() - 1);
    const node = new SimNode(
      id,
      this.random.next32(),
      this.options.raft,
      initialConfig,
      this.options.tickMs * rate,
    );
    this.nodes.set(id, node);
    this.startNode(node);
    return node;
  }

  /** Requests sent between the cores (responses not counted). */
  get requestsSent(): number {
    return this.wire.requestsSent;
  }

  /** Highest index of any write acknowledged to a client. */
  get ackedIndex(): number {
    return this.calls.ackedIndex;
  }

  node(id: NodeId): SimNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`remu: no node ${id}`);
    return node;
  }

  raft(id: NodeId): RaftNode | null {
    return this.node(id).raft;
  }

  upNodes(): SimNode[] {
    return [...this.nodes.values()].filter((node) => node.up);
  }

  // ---------------------------------------------------------------- time

  /** Process the next event. Returns false when nothing is scheduled. */
  step(): boolean {
    const next = this.events.pop();
    if (next === undefined) return false;
    if (this.recorder !== null) return this.recordStep(this.recorder, next.at, next.event);
    this.now = Math.max(this.now, next.at);
    this.stats.events++;
    return this.process(next.event);
  }

  private process(event: SimEvent): boolean {
    switch (event.kind) {
      case "tick":
        if (event.node.incarnation !== event.incarnation || !event.node.up) return true;
        event.node.raft!.tick();
        this.scheduleTick(event.node);
        this.afterInput(event.node);
        return true;
      case "deliver":
        this.wire.deliver(event.message);
        return true;
      case "persist":
        if (event.node.incarnation !== event.incarnation || !event.node.up) return true;
        this.completeWrite(event.node);
        return true;
      case "call":
        this.trace.add(this.now, event.label);
        event.fn();
        return true;
    }
  }

  /** process(), bracketed by the recorder. */
  private recordStep(recorder: Recorder, at: number, event: SimEvent): boolean {
    recorder.flush(); // calls made since the last event, outside the loop, are a step of their own
    this.now = Math.max(this.now, at);
    this.stats.events++;
    beginStep(recorder, event);
    try {
      const more = this.process(event);
      recorder.end();
      return more;
    } catch (error) {
      recorder.endWithError(error);
      throw error;
    }
  }

  /** A trace line that is also a note of the recorder. */
  private traceNote(kind: NoteKind, node: NodeId | null, line: string): void {
    this.trace.add(this.now, line);
    this.recorder?.note(kind, node, line);
  }

  runFor(ms: number): void {
    this.runUntil(() => false, ms);
  }

  /** Run until `done()` holds (checked after each event) or `maxMs` pass. */
  runUntil(done: () => boolean, maxMs: number): boolean {
    const until = this.now + maxMs;
    if (done()) return true;
    while ((this.events.peekTime() ?? Number.POSITIVE_INFINITY) <= until) {
      this.step();
      if (done()) return true;
    }
    this.now = Math.max(this.now, until);
    return done();
  }

  /** Schedule `fn` at virtual time now + delayMs. */
  at(delayMs: number, label: string, fn: () => void): void {
    this.events.push(this.now + delayMs, { kind: "call", label, fn });
  }

  // ---------------------------------------------------------------- faults

  crash(id: NodeId): void {
    const node = this.node(id);
    if (!node.up) return;
    this.traceNote("crash", id, `${id} CRASH (loses ${node.pendingWrites.length} unsynced writes)`);
    this.calls.failProposals(id);
    node.crash();
    this.stats.crashes++;
    this.signalCrash(id);
  }

  /**
   * A crashed process's peers see its connections reset and its port refuse (the server's
   * peer links report it: stages/replicate): each peer the network connects to it is told
   * peerUnreachable after the longest ordinary latency (TCP delivers what was sent before the
   * reset first), if it is still down then. A partition sends no such signal: it is silence.
   */
  private signalCrash(id: NodeId): void {
    for (const peer of this.nodes.values()) {
      if (peer.id === id || !peer.up || !this.network.linkUp(id, peer.id)) continue;
      const incarnation = peer.incarnation;
      this.at(this.network.faults.latencyMaxMs + 1, `${peer.id} sees ${id} gone`, () => {
        if (this.node(id).up || !peer.up || peer.incarnation !== incarnation) return;
        peer.raft!.peerUnreachable(id);
        this.afterInput(peer);
      });
    }
  }

  restart(id: NodeId): void {
    const node = this.node(id);
    if (node.up) return;
    this.startNode(node);
  }

  private startNode(node: SimNode): void {
    const raft = node.start();
    this.traceNote(
      "start",
      node.id,
      `${node.id} START term ${raft.status().term} log [${raft.log.firstIndex}..${raft.log.lastIndex()}] commit ${raft.status().commitIndex}`,
    );
    this.scheduleTick(node);
    this.afterInput(node);
  }

  isolate(id: NodeId): void {
    this.network.isolate(id);
    this.traceNote("isolate", id, `${id} ISOLATED`);
  }

  reconnect(id: NodeId): void {
    this.network.reconnect(id);
    this.traceNote("reconnect", id, `${id} RECONNECTED`);
  }

  partition(sides: readonly (readonly NodeId[])[]): void {
    this.network.partition(sides);
    this.traceNote("partition", null, `PARTITION ${this.network.describe()}`);
  }

  cutLinks(links: readonly (readonly [NodeId, NodeId])[]): void {
    for (const [a, b] of links) this.network.cutLink(a, b);
    this.traceNote("cut", null, `CUT ${this.network.describe()}`);
  }

  heal(): void {
    this.network.heal();
    this.traceNote("heal", null, "HEAL");
  }

  setNetwork(faults: Partial<NetworkFaults>): void {
    this.network.faults = { ...this.network.faults, ...faults };
  }

  // ---------------------------------------------------------------- clients

  /** Propose `data` at node `id`; `onApplied` hears whether that node applied it. */
  propose(id: NodeId, data: string, onApplied?: (applied: boolean) => void): ProposeResult {
    return this.onRaft(id, (raft) => {
      const result = raft.propose(new TextEncoder().encode(data));
      if (!result.ok) return result;
      this.calls.proposed(id, result.index, result.term, data, onApplied);
      const line = `${id} PROPOSE "${data}" at ${result.index} term ${result.term}`;
      this.traceNote("propose", id, line);
      return result;
    });
  }

  proposeConfigChange(id: NodeId, changes: readonly ConfigChange[]): ProposeResult {
    return this.onRaft(id, (raft) => {
      const result = raft.proposeConfigChange(changes);
      const line = `${id} CONFIG ${JSON.stringify(changes)} → ${JSON.stringify(result)}`;
      this.traceNote("config", id, line);
      return result;
    });
  }

  transferLeadership(id: NodeId, to: NodeId): ProposeResult {
    return this.onRaft(id, (raft) => {
      const result = raft.transferLeadership(to);
      const line = `${id} TRANSFER to ${to} → ${result.ok ? "started" : result.reason}`;
      this.traceNote("transfer", id, line);
      return result;
    });
  }

  /** A client call on node `id`'s core, then its Readys; a stopped node is "not-leader". */
  private onRaft(id: NodeId, act: (raft: RaftNode) => ProposeResult): ProposeResult {
    const node = this.node(id);
    if (node.raft === null) return { ok: false, reason: "not-leader", leader: null };
    const result = act(node.raft);
    this.afterInput(node);
    return result;
  }

  /**
   * A read at node `id`. Its read index is checked against every write acknowledged before the
   * read began: a read that could miss one breaks linearizability.
   */
  read(id: NodeId, mode: ReadMode, onRead?: (index: number | null) => void): void {
    const node = this.node(id);
    if (node.raft === null) {
      onRead?.(null);
      return;
    }
    const ctx = this.calls.startRead(id, onRead);
    node.raft.readIndex(ctx, mode);
    this.afterInput(node);
  }

  leaders(): NodeId[] {
    return this.upNodes()
      .filter((node) => node.raft!.status().role === "leader")
      .map((node) => node.id);
  }

  // ---------------------------------------------------------------- the node loop

  private scheduleTick(node: SimNode): void {
    const tick: SimEvent = { kind: "tick", node, incarnation: node.incarnation };
    this.events.push(this.now + node.tickIntervalMs, tick);
  }

  /** Drain the node's Ready batches, then check every invariant. */
  private afterInput(node: SimNode): void {
    const raft = node.raft;
    if (raft === null) return;
    for (let rounds = 0; raft.hasReady(); rounds++) {
      if (rounds > 1000) throw new Error(`remu: ${node.id} produced Ready batches without end`);
      this.handleReady(node, raft, raft.ready());
    }
    const others = this.upNodes()
      .filter((other) => other !== node)
      .map((other) => other.raft!);
    this.checker.check(raft, node.incarnation, others);
  }

  private handleReady(node: SimNode, raft: RaftNode, ready: Ready): void {
    if (ready.softState !== null) {
      const { role, term, leader } = ready.softState;
      const line = `${node.id} is ${role} in term ${term}${leader ? ` (leader ${leader})` : ""}`;
      this.traceNote("role", node.id, line);
      if (role === "leader") this.stats.elections++;
      if (role !== "leader") this.calls.failProposals(node.id);
    }
    for (const message of ready.messages) this.wire.send(message);
    node.absorbSnapshot(ready);
    if (ready.snapshot !== null) {
      this.stats.snapshotsInstalled++;
      this.traceNote("install", node.id, `${node.id} INSTALL snapshot at ${ready.snapshot.index}`);
    }
    this.applyCommitted(node, raft, ready.committed);
    for (const read of ready.readStates)
      this.calls.serveRead(node.id, read.ctx, read.ok ? read.index : null);
    const doneAt = node.queueWrite(ready, this.now, this.options.diskLatencyMs);
    this.events.push(doneAt, { kind: "persist", node, incarnation: node.incarnation });
  }

  private completeWrite(node: SimNode): void {
    const write = node.pendingWrites.shift();
    if (write === undefined) return;
    node.persist(write.ready);
    for (const message of write.ready.persistedMessages) this.wire.send(message);
    node.raft!.advance(write.ready);
    this.afterInput(node);
  }

  private applyCommitted(node: SimNode, raft: RaftNode, committed: readonly Entry[]): void {
    if (committed.length === 0) return;
    for (const entry of committed) {
      this.checker.applied(node.id, raft.status().term, entry);
      node.stateMachine.apply(entry);
      this.calls.applied(node.id, entry);
    }
    raft.appliedTo(committed.at(-1)!.index);
    const meta = node.snapshotIfDue(this.options.snapshotEvery, this.options.retainEntries);
    if (meta === null) return;
    this.stats.snapshots++;
    const line = `${node.id} SNAPSHOT at ${meta.index} (${meta.size} bytes)`;
    this.traceNote("snapshot", node.id, line);
  }
}
