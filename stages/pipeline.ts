import type { Logger } from "pino";
import {
  AdmissionController,
  type Clock,
  type Closer,
  LatencyLimiter,
  type StageSnapshot,
  systemClock,
} from "../queues/mod.js";
import type { RaftStatus } from "../raft/node.js";
import type { NodeId } from "../raft/types.js";
import type { LogStore } from "../storage/log-store.js";
import type { SnapshotStore } from "../storage/snapshot-store.js";
import {
  type ApplyOptions,
  type ApplyPorts,
  ApplyStage,
  defaultWatchHubOptions,
  type StateMachinePort,
  WatchHub,
} from "./apply/mod.js";
import {
  type ApplyItem,
  type Fatal,
  type QueuePort,
  type RaftStepPort,
  requestsWaitingMax,
} from "./items.js";
import {
  MemberDirectory,
  type RaftCore,
  type RaftStepOptions,
  type RaftStepPorts,
  RaftStepStage,
} from "./raft-step/mod.js";
import {
  type Hello,
  type PeerGatewayPorts,
  type ReplicateOptions,
  ReplicateStage,
  type Transport,
} from "./replicate/mod.js";
import { ConnectionTable, type RespondOptions, RespondStage } from "./respond/mod.js";
import { type WalAppendOptions, WalAppendStage } from "./wal-append/mod.js";

/** What the stages run on, opened (and checked) before them by src/node-storage.ts. */
export interface PipelineStorage {
  readonly wal: LogStore;
  readonly snapshots: SnapshotStore;
  readonly machine: StateMachinePort;
  /** The state machine's applied index when it was opened. */
  readonly applied: number;
}

export interface PipelineOptions {
  readonly name: NodeId;
  /** This node's client address, told to peers in the hello. */
  readonly clientAddress: string;
  readonly peerToken: string | null;
  /** The initial cluster, name → peer address (this node included). */
  readonly members: ReadonlyMap<NodeId, string>;
  readonly raftStep: RaftStepOptions;
  readonly walAppend: WalAppendOptions;
  readonly replicate: ReplicateOptions;
  readonly apply: ApplyOptions;
  readonly respond: RespondOptions;
  /** Watches: config watch.progressIntervalMs (the rest: defaultWatchHubOptions). */
  readonly watch: { readonly progressIntervalMs: number };
  /** How long a removed node stays up (refusing requests) before `removed` resolves. */
  readonly removedGraceMs: number;
  /** Config limits.admissionLatencyMs / admissionMinInflight (docs/operations.md); 0: off. */
  readonly admission: { readonly latencyTargetMs: number; readonly minInflight: number };
}

/**
 * The world the stages run in: the process's clock and TCP by default; remu's virtual clock
 * and network under simulation. (The log store is in PipelineStorage.)
 */
export interface PipelineWorld {
  readonly clock?: Clock;
  /** The peer links: default, the replicate stage's TCP links. */
  readonly transport?: (self: Hello, peers: ReadonlyMap<NodeId, string>) => Transport;
}

/** The latency limiter's ceiling: beyond it the queues' own bounds refuse first. */
const MAX_INFLIGHT = requestsWaitingMax;

/** Builds the one fatal path from a view of the core (src/fatal.ts: log, then exit 70). */
export type FatalFactory = (status: () => RaftStatus | null) => Fatal;

/**
 * The stages of one node wired through their ports: raft-step → wal-append ∥ replicate → apply
 * → respond, and the acks back to raft-step (persisted, applied, compact, kick). Ingress and
 * the process around it (config, HTTP, signals, exit) stay in src/; it reaches the pipeline
 * through `edgePorts()`.
 *
 * The acks are closures over this object's readonly fields, all assigned in the constructor;
 * none runs before `run()`.
 */
export class Pipeline {
  readonly connections = new ConnectionTable();
  readonly directory: MemberDirectory;
  readonly replicate: Transport;
  readonly respond: RespondStage;
  readonly walAppend: WalAppendStage;
  readonly apply: ApplyStage;
  /** Watches, served from apply's changes (docs/watch.md). */
  readonly watchHub: WatchHub;
  readonly raftStep: RaftStepStage;
  readonly admission: AdmissionController;
  /** Resolves (with why) once this node learns that it was removed from the cluster. */
  readonly removed: Promise<string>;
  private readonly fatal: Fatal;
  private constructed = false;
  private readonly clock: Clock;

  constructor(
    core: RaftCore,
    readonly storage: PipelineStorage,
    private readonly options: PipelineOptions,
    fatal: FatalFactory,
    log: Logger,
    world: PipelineWorld = {},
  ) {
    this.clock = world.clock ?? systemClock;
    this.fatal = fatal(() => (this.constructed ? this.raftStep.status() : null));
    this.directory = new MemberDirectory(options.members);
    this.directory.learnClient(options.name, options.clientAddress);
    this.replicate = this.transport(world, log);
    this.respond = new RespondStage(
      this.connections,
      this.replicate,
      options.respond,
      log.child({ stage: "respond" }),
      this.clock,
    );
    const acks = this.raftStepAcks();
    this.walAppend = new WalAppendStage(
      storage.wal,
      storage.snapshots,
      { raftStep: acks, apply: this.applyQueue(), fatal: this.fatal, clock: this.clock },
      options.walAppend,
    );
    this.watchHub = new WatchHub(
      this.respond,
      storage.machine,
      this.clock,
      { ...defaultWatchHubOptions, ...options.watch },
      log.child({ stage: "apply" }),
      storage.applied,
    );
    this.apply = new ApplyStage(
      storage.machine,
      storage.snapshots,
      this.applyPorts(acks),
      options.apply,
      log.child({ stage: "apply" }),
      storage.applied,
    );
    let removedResolve: (reason: string) => void = () => {};
    this.removed = new Promise<string>((resolve) => {
      removedResolve = resolve;
    });
    this.raftStep = new RaftStepStage(
      core,
      this.raftStepPorts(removedResolve),
      this.directory,
      {
        // A Ready in wal-append is queued there or in the batch being written.
        readiesInWalMax: options.walAppend.capacityItems + options.walAppend.batchItems,
        ...options.raftStep,
      },
      log.child({ stage: "raft-step" }),
    );
    this.replicate.onPeerUnreachable = (name) => this.raftStep.onPeerUnreachable(name);
    this.admission = this.admissionController();
    this.constructed = true;
  }

  /** The peer links: the world's (remu's virtual network), else the replicate stage's TCP. */
  private transport(world: PipelineWorld, log: Logger): Transport {
    const { options } = this;
    const peers = new Map([...options.members].filter(([name]) => name !== options.name));
    const self = {
      name: options.name,
      clientAddress: options.clientAddress,
      token: options.peerToken,
    };
    return (
      world.transport?.(self, peers) ??
      new ReplicateStage(
        self,
        peers,
        this.storage.snapshots,
        options.replicate,
        log.child({ stage: "replicate" }),
      )
    );
  }

  /**
   * Requests are refused at the door while a downstream queue is nearly full, and — with a
   * latency target — while more are in flight than the latency limiter allows.
   */
  private admissionController(): AdmissionController {
    const downstream = [
      this.raftStep.stage,
      this.walAppend.stage,
      this.apply.stage,
      this.respond.stage,
    ];
    const { latencyTargetMs, minInflight } = this.options.admission;
    if (latencyTargetMs <= 0) return new AdmissionController(downstream);
    const limiter = new LatencyLimiter({
      targetMs: latencyTargetMs,
      minLimit: minInflight,
      maxLimit: Math.max(minInflight, MAX_INFLIGHT),
    });
    this.respond.repliedHooks.push((target) => {
      if (target.receivedMs !== undefined) limiter.observe(performance.now() - target.receivedMs);
    });
    return new AdmissionController(downstream, {
      limiter,
      inflight: () => this.connections.inflight,
    });
  }

  /**
   * The apply stage's ports: the one place its callbacks are wired (watch, leases and
   * revisions hook in here).
   */
  private applyPorts(acks: RaftStepPort): ApplyPorts {
    return {
      raftStep: acks,
      respond: this.respond,
      wal: this.walAppend,
      fatal: this.fatal,
      clock: this.clock,
      watches: this.watchHub,
      onChanges: (changes, index) => this.watchHub.onChanges(changes, index),
    };
  }

  private raftStepPorts(removed: (reason: string) => void): RaftStepPorts {
    const graceMs = this.options.removedGraceMs;
    return {
      wal: this.walAppend,
      apply: this.apply,
      replicate: this.replicate,
      respond: this.respond,
      fatal: this.fatal,
      clock: this.clock,
      // Stay up a little, refusing requests with UNAVAILABLE: followers that still take this
      // node for the leader get an answer (and elect a new one) instead of silence.
      removed: (reason) => this.clock.after(graceMs, () => removed(reason)),
    };
  }

  /** What wal-append and apply tell raft-step (the back-edges of the pipeline). */
  private raftStepAcks(): RaftStepPort {
    return {
      offer: (item) => this.raftStep.offer(item),
      onPersisted: (ready) => this.raftStep.onPersisted(ready),
      onApplied: (index) => this.raftStep.onApplied(index),
      compact: (index, size) => this.raftStep.compact(index, size),
      kick: () => this.raftStep.kick(),
    };
  }

  /** wal-append hands restored snapshots to apply. */
  private applyQueue(): QueuePort<ApplyItem> {
    return {
      offer: (item) => this.apply.offer(item),
      hasRoom: (items, bytes) => this.apply.hasRoom(items, bytes),
    };
  }

  /** What the node's front door (ingress and its peer gateway) hands work to. */
  edgePorts(): PeerGatewayPorts {
    return {
      raftStep: this.raftStep,
      admission: this.admission,
      forwardReplied: (from, forwardId, text) => {
        const item = this.raftStep.onForwardReply(forwardId, from);
        if (item !== null && item.target.kind === "local") {
          this.respond.replied(item.target);
          this.respond.deliver(item.target.connId, [text]);
        }
      },
      removedNotice: (from, notice) => this.raftStep.onRemovedNotice(from, notice),
      peerHello: (hello) => {
        this.replicate.peerSeen(hello.name);
        this.directory.learnClient(hello.name, hello.clientAddress);
      },
      replyNow: (target, text) => {
        if (target.kind === "remote")
          this.replicate.forwardReply(target.node, target.forwardId, text);
        else this.respond.deliver(target.connId, [text]);
      },
    };
  }

  /**
   * Load the session table. It must be loaded before anything reaches raft-step: a committed
   * entry applied against an empty table could apply a retried write twice on this replica.
   */
  async load(): Promise<void> {
    await this.apply.start();
  }

  /** Start the links to peers and the core's ticks. */
  run(): void {
    this.replicate.start();
    this.raftStep.start();
  }

  stageSnapshots(): StageSnapshot[] {
    return [
      this.raftStep.snapshot(),
      this.walAppend.snapshot(),
      this.replicate.snapshot(),
      this.apply.snapshot(),
      this.respond.snapshot(),
    ];
  }

  /**
   * The one stop sequence, also the cleanup of a start that failed half-way (every step is
   * safe on stages that never started). `edge`: the front door, closed once no ticks or
   * outbound links remain; `core`: what runs the core beside raft-step (a worker pool).
   */
  closers(edge: readonly Closer[], core: readonly Closer[]): Closer[] {
    return [
      { name: "raft ticks", close: () => this.raftStep.stop() },
      { name: "replicate", close: () => this.replicate.close() },
      ...edge,
      { name: "apply timers and snapshots", close: () => this.apply.stop() },
      {
        name: "pipeline drain",
        close: () => this.drain(),
        pending: () => ({
          stages: this.stageSnapshots().map((s) => ({ name: s.name, depth: s.queueDepth })),
          apply: this.apply.pending(),
        }),
      },
      { name: "raft core", close: () => this.raftStep.close() },
      ...core,
      { name: "state machine", close: () => this.storage.machine.close() },
      { name: "wal", close: () => this.storage.wal.close() },
    ];
  }

  /**
   * Drain in pipeline order until a whole round finds every stage idle: apply may hand
   * wal-append a compaction after wal-append first looked idle. A worker's round in flight is
   * part of raft-step too (settled() waits for it).
   */
  private async drain(): Promise<void> {
    const handedOn = () =>
      this.walAppend.stage.snapshot().accepted +
      this.apply.stage.snapshot().accepted +
      this.raftStep.stats.rounds;
    for (let round = 0; round < 20; round++) {
      const before = handedOn();
      await this.raftStep.settled();
      await this.apply.settled();
      await this.walAppend.stage.idle();
      if (before === handedOn()) return;
    }
    throw new Error("the pipeline was still busy after 20 rounds of draining");
  }
}
