import pino, { type Logger } from "pino";
import { AdmissionController, type StageSnapshot } from "../queues/mod.js";
import { RaftNode, raftConfig, SeededRandom } from "../raft/mod.js";
import { ApplyStage, StateMachine } from "../stages/apply/mod.js";
import { IngressStage } from "../stages/ingress/mod.js";
import {
  InlineRaftCore,
  MemberDirectory,
  type RaftCore,
  RaftCorePool,
  RaftStepStage,
  type Readiness,
} from "../stages/raft-step/mod.js";
import { ReplicateStage } from "../stages/replicate/mod.js";
import { ConnectionTable, RespondStage } from "../stages/respond/mod.js";
import { WalAppendStage } from "../stages/wal-append/mod.js";
import { type NodeConfig, parseInitialCluster } from "./config.js";
import { loadDashboardAssets } from "./dashboard/assets.js";
import {
  type DashboardSnapshot,
  type IngressCounters,
  NodeObserver,
} from "./dashboard/observer.js";
import { renderDashboard } from "./dashboard/page.js";
import { fatalExit } from "./fatal.js";
import { HttpRoutes } from "./http/routes.js";
import { latestSnapshotFile } from "./http/snapshot-download.js";
import { NodeMetrics } from "./metrics.js";
import { openStorage, StartupError } from "./node-storage.js";
import { runClosers, type StopOutcome } from "./shutdown.js";

export { StartupError };

/** A running node: the six stages wired over their queues, plus the storage they share. */
export class StageraftNode {
  private stopped = false;

  private constructor(
    readonly config: NodeConfig,
    readonly log: Logger,
    readonly ingress: IngressStage,
    readonly raftStep: RaftStepStage,
    readonly walAppend: WalAppendStage,
    readonly replicate: ReplicateStage,
    readonly apply: ApplyStage,
    readonly respond: RespondStage,
    /** What the stages run on, opened before them: closed after them. */
    private readonly storage: Record<"core" | "wal" | "machine", { close(): Promise<void> }>,
    readonly ports: { clientPort: number; peerPort: number },
    private readonly observer: NodeObserver,
    /** Resolves (with why) once this node learns that it was removed from the cluster. */
    readonly removed: Promise<string>,
  ) {}

  static async start(
    config: NodeConfig,
    log: Logger = pino({ level: config.log.level, base: { node: config.name } }),
  ): Promise<StageraftNode> {
    const { snapshots, latest, wal, contents, entries, machine, applied, lastIndex, lostTo } =
      await openStorage(config, log);

    const members = parseInitialCluster(config.initialCluster);
    const fresh = contents.hardState.term === 0 && entries.length === 0 && latest === null;
    const voters = fresh && config.initialClusterState === "new" ? [...members.keys()] : [];
    // Stored at the first start: a restart must not depend on flags it may be given differently.
    const initialConfig = await wal.bootstrapConfig({ voters, outgoing: [], learners: [] });
    const coreConfig = raftConfig(
      { id: config.name, group: 1, initialConfig },
      {
        electionTicks: config.raft.electionTicks,
        heartbeatTicks: config.raft.heartbeatTicks,
        preVote: config.raft.preVote,
        checkQuorum: config.raft.checkQuorum,
        maxAppendBytes: config.raft.maxAppendBytes,
        maxInflight: config.raft.maxInflight,
        maxUncommittedBytes: config.raft.maxUncommittedBytes,
        snapshotChunkBytes: config.raft.snapshotChunkBytes,
        leaseDriftTicks: config.raft.leaseDriftTicks,
      },
    );
    // Entries once durable here are gone: the core waits to hold them again before voting.
    const durableCommit = Math.max(contents.storedCommit, lostTo);
    if (durableCommit > lastIndex)
      log.warn(
        { group: 1, term: contents.hardState.term, index: lastIndex, commitIndex: durableCommit },
        "the WAL lost synced entries (they were committed here): this node neither votes nor campaigns until the leader has replicated them again",
      );
    const hardState = { ...contents.hardState, commit: durableCommit };
    const restored = { hardState, snapshot: latest, entries, applied };
    const seed = seedFrom(config.name);
    const retainEntries = config.raft.snapshotRetainEntries;
    // One Raft group per node today: the workers pool has one worker, which owns the group.
    const corePool = config.stages.raftStep.pool === "workers" ? new RaftCorePool(1) : null;
    let core: RaftCore;
    try {
      core =
        corePool !== null
          ? await corePool.open({ config: coreConfig, seed, restored, retainEntries })
          : new InlineRaftCore(
              new RaftNode(coreConfig, new SeededRandom(seed), restored),
              retainEntries,
            );
    } catch (error) {
      // A live worker thread would keep the process from exiting.
      await corePool?.close();
      await wal.close();
      await machine.close();
      throw new StartupError(`the Raft core could not start: ${(error as Error).message}`);
    }

    const [clientHost, clientPort] = splitHostPort(config.listenClient);
    const [peerHost, peerPort] = splitHostPort(config.listenPeer);
    const peers = new Map([...members].filter(([name]) => name !== config.name));
    const replicate = new ReplicateStage(
      {
        name: config.name,
        clientAddress: config.listenClient,
        token: config.auth.peerToken ?? null,
      },
      peers,
      snapshots,
      {
        capacityItems: config.stages.replicate.queueItems,
        batchItems: config.stages.replicate.batchItems,
        maxFrameBytes: Math.min(config.limits.maxPeerFrameBytes, 16 << 20),
        maxBufferedBytes: 64 << 20,
        reconnectMinMs: 50,
        reconnectMaxMs: 2_000,
      },
      log.child({ stage: "replicate" }),
    );
    const connections = new ConnectionTable();
    const respond = new RespondStage(
      connections,
      replicate,
      {
        capacityItems: config.stages.respond.queueItems,
        batchItems: config.stages.respond.batchItems,
        maxReplyBytesPerConnection: config.limits.maxReplyBytesPerConnection,
      },
      log.child({ stage: "respond" }),
    );
    const late: { raftStep?: RaftStepStage; apply?: ApplyStage; wal?: WalAppendStage } = {};
    const raftStepPort = {
      offer: (item: never) => late.raftStep!.offer(item),
      onPersisted: (ready: never) => late.raftStep!.onPersisted(ready),
      onApplied: (index: number) => late.raftStep!.onApplied(index),
      compact: (index: number, size: number) => late.raftStep!.compact(index, size),
      kick: () => late.raftStep!.kick(),
    };
    const fatal = fatalExit(log, () => late.raftStep?.status() ?? null);
    const walAppend = new WalAppendStage(
      wal,
      snapshots,
      {
        raftStep: raftStepPort,
        fatal,
        apply: {
          offer: (item) => late.apply!.offer(item),
          hasRoom: (i, b) => late.apply!.hasRoom(i, b),
        },
      },
      {
        capacityItems: config.stages.walAppend.queueItems,
        batchItems: config.stages.walAppend.batchItems,
      },
    );
    const apply = new ApplyStage(
      machine,
      snapshots,
      { raftStep: raftStepPort, respond, wal: walAppend, fatal },
      {
        capacityItems: config.stages.apply.queueItems,
        batchItems: config.stages.apply.batchItems,
        snapshotEvery: config.raft.snapshotEvery,
        pool: config.stages.apply.pool,
      },
      log.child({ stage: "apply" }),
      applied,
    );
    const closeCore = async (): Promise<void> => {
      await raftStep.close();
      await corePool?.close();
    };
    const removedGraceMs = 4 * config.raft.electionTicks * config.raft.tickMs;
    let removedResolve: (reason: string) => void = () => {};
    const removed = new Promise<string>((resolve) => {
      removedResolve = resolve;
    });
    const directory = new MemberDirectory(members);
    directory.learnClient(config.name, config.listenClient);
    const raftStep = new RaftStepStage(
      core,
      {
        wal: walAppend,
        apply,
        replicate,
        respond,
        fatal,
        removed: (reason) => {
          // Stay up a little, refusing requests with UNAVAILABLE: followers that still take
          // this node for the leader get an answer (and elect a new one) instead of silence.
          setTimeout(() => removedResolve(reason), removedGraceMs).unref();
        },
      },
      directory,
      {
        adminTimeoutMs: Math.max(30_000, config.limits.requestTimeoutMs),
        vectorDefaults: {
          engine: config.engines.vector,
          hnsw: config.engines.hnsw,
          collections: config.engines.collections,
        },
        capacityItems: config.stages.raftStep.queueItems,
        batchItems: config.stages.raftStep.batchItems,
        tickMs: config.raft.tickMs,
        forwarding: config.forwarding,
      },
      log.child({ stage: "raft-step" }),
    );
    late.raftStep = raftStep;
    late.apply = apply;
    late.wal = walAppend;
    const admission = new AdmissionController([
      raftStep.stage,
      walAppend.stage,
      apply.stage,
      respond.stage,
    ]);
    const nodeRef: { node?: StageraftNode } = {};
    // What /dashboard and /metrics read: live values, taken when asked.
    const observer: NodeObserver = new NodeObserver({
      name: config.name,
      raft: raftStep,
      stages: () => [
        raftStep.snapshot(),
        walAppend.snapshot(),
        replicate.snapshot(),
        apply.snapshot(),
        respond.snapshot(),
      ],
      ingress: (): IngressCounters => ({
        connections: connections.size,
        frames: ingress.stats.frames,
        badFrames: ingress.stats.badFrames,
        overloaded: ingress.stats.overloaded,
        unauthorized: ingress.stats.unauthorized,
        peerFrames: ingress.stats.peerFrames,
        peerRejected: ingress.stats.peerRejected,
      }),
      wal: () => ({
        ...walAppend.stats,
        writes: wal.writes,
        syncs: wal.syncs,
        sync: config.wal.sync,
      }),
      apply: () => ({ ...apply.stats }),
      engines: () =>
        machine instanceof StateMachine
          ? {
              kv: { engine: machine.kv.name, ...machine.kv.stats() },
              vectors: machine.vectors.stats(),
            }
          : null,
      members: () => directory.view(raftStep.status().config),
      links: () => replicate.peerStatus(),
    });
    raftStep.stage.on("batch", () => observer.observeLeader());
    let metrics: NodeMetrics | null = null;
    const { protectHttp } = config.auth;
    const page = renderDashboard(config.name, { protectHttp });
    const assets = loadDashboardAssets();
    const http = new HttpRoutes(
      {
        clientToken: config.auth.clientToken ?? null,
        adminToken: config.auth.adminToken ?? null,
        protectHttp,
      },
      {
        health: () => nodeRef.node!.health(),
        readiness: () => nodeRef.node!.readiness(),
        // Built at the first scrape: a node nobody scrapes pays nothing.
        metrics: () => {
          metrics ??= new NodeMetrics(() => observer.local(), { node: config.name });
          return metrics.render();
        },
        dashboard: (token) =>
          token === null ? page : renderDashboard(config.name, { token, protectHttp }),
        dashboardSnapshot: () => observer.dashboardFresh(),
        dashboardAsset: (name) => assets.get(name),
        latestSnapshot: () => latestSnapshotFile(snapshots),
      },
      log.child({ stage: "ingress" }),
    );
    const ingress: IngressStage = new IngressStage(
      connections,
      {
        clientHost,
        clientPort,
        peerHost,
        peerPort,
        limits: {
          maxKeyBytes: config.limits.maxKeyBytes,
          maxValueBytes: config.limits.maxValueBytes,
          maxScanLimit: config.limits.maxScanLimit,
        },
        maxInflightPerConnection: config.limits.maxInflightPerConnection,
        maxReplyBytesPerConnection: config.limits.maxReplyBytesPerConnection,
        requestTimeoutMs: config.limits.requestTimeoutMs,
        maxPeerFrameBytes: config.limits.maxPeerFrameBytes,
        clientToken: config.auth.clientToken ?? null,
        adminToken: config.auth.adminToken ?? null,
        peerToken: config.auth.peerToken ?? null,
        nodeName: config.name,
      },
      {
        raftStep,
        admission,
        forwardReplied: (from, forwardId, text) => {
          const item = raftStep.onForwardReply(forwardId, from);
          if (item !== null && item.target.kind === "local")
            respond.deliver(item.target.connId, [text]);
        },
        removedNotice: (from, notice) => raftStep.onRemovedNotice(from, notice),
        peerHello: (hello) => {
          replicate.peerSeen(hello.name);
          directory.learnClient(hello.name, hello.clientAddress);
        },
        replyNow: (target, text) => {
          if (target.kind === "remote") replicate.forwardReply(target.node, target.forwardId, text);
          else respond.deliver(target.connId, [text]);
        },
        http,
      },
      log.child({ stage: "ingress" }),
    );
    // The session table must be loaded before anything can reach raft-step: a committed entry
    // applied against an empty table could apply a retried write twice on this replica only.
    try {
      await apply.start();
    } catch (error) {
      apply.stop();
      await closeCore();
      await wal.close();
      await machine.close();
      throw new StartupError(`the state machine could not load: ${(error as Error).message}`);
    }
    let ports: { clientPort: number; peerPort: number };
    try {
      ports = await ingress.start();
    } catch (error) {
      await ingress.stop();
      apply.stop();
      await wal.close();
      await machine.close();
      await closeCore();
      throw new StartupError((error as Error).message);
    }
    const node = new StageraftNode(
      config,
      log,
      ingress,
      raftStep,
      walAppend,
      replicate,
      apply,
      respond,
      { core: { close: closeCore }, wal, machine },
      ports,
      observer,
      removed,
    );
    nodeRef.node = node;
    replicate.start();
    raftStep.start();
    const started = raftStep.status();
    log.info(
      {
        group: 1,
        term: started.term,
        index: started.lastIndex,
        commitIndex: started.commitIndex,
        raftStepPool: raftStep.pool,
        applyPool: config.stages.apply.pool,
        appliedIndex: applied,
        client: `${clientHost}:${ports.clientPort}`,
        peer: `${peerHost}:${ports.peerPort}`,
        engine: config.engines.kv,
        auth:
          config.auth.clientToken || config.auth.adminToken || config.auth.peerToken
            ? "tokens required"
            : "none: the node accepts every client and peer",
        dashboard: `http://${clientHost}:${ports.clientPort}/dashboard`,
      },
      "stageraft node started",
    );
    if ((config.auth.clientToken || config.auth.adminToken) && !config.auth.peerToken) {
      // Whoever reaches the peer port is a peer: it can forward admin ops and send Raft messages.
      log.warn(
        { group: 1, peer: `${peerHost}:${ports.peerPort}` },
        "client tokens are set but auth.peerToken is not: the peer port lets anyone in",
      );
    }
    return node;
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

  /** What /dashboard/live pushes: stages, Raft, storage, connections and the cluster's health. */
  dashboardSnapshot(): DashboardSnapshot {
    return this.observer.dashboard();
  }

  /** CONTRACT §7: /readyz's answer and /health's status; a stopping node is not ready. */
  readiness(): Readiness {
    if (this.stopped) return { ready: false, reason: "the node is stopping" };
    return this.raftStep.readiness();
  }

  health(): Record<string, unknown> {
    const status = this.raftStep.status();
    const { ready, reason } = this.readiness();
    return {
      ...this.raftStep.statusResult(),
      ready,
      ...(ready ? {} : { reason }),
      lastIndex: status.lastIndex,
      members: status.config,
      peers: this.replicate.peerStatus(),
      stages: this.stageSnapshots(),
    };
  }

  /**
   * SIGTERM: stop taking work, let the pipeline drain, close storage: the steps in reverse
   * order of start, all within `deadlineMs` whatever the node holds (a snapshot being written
   * is abandoned, not awaited). "forced": a step overran or failed and was logged, the rest
   * skipped; exiting then is safe (see runClosers).
   */
  async stop(deadlineMs = stopDeadlineMs): Promise<StopOutcome> {
    if (this.stopped) return "clean";
    this.stopped = true;
    const outcome = await runClosers(
      [
        { name: "raft ticks", close: () => this.raftStep.stop() },
        { name: "replicate", close: () => this.replicate.close() },
        { name: "ingress", close: () => this.ingress.stop() },
        { name: "apply timers and snapshots", close: () => this.apply.stop() },
        {
          name: "pipeline drain",
          close: () => this.drain(),
          pending: () => ({
            stages: this.stageSnapshots().map((s) => ({ name: s.name, depth: s.queueDepth })),
            apply: this.apply.pending(),
          }),
        },
        { name: "raft core", close: () => this.storage.core.close() },
        { name: "state machine", close: () => this.storage.machine.close() },
        { name: "wal", close: () => this.storage.wal.close() },
      ],
      deadlineMs,
      this.log,
    );
    const status = this.raftStep.status();
    this.log.info(
      { group: 1, term: status.term, index: status.lastIndex, outcome },
      "stageraft node stopped",
    );
    return outcome;
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

/** A stop finishes within this, or leaves anyway (safely: see runClosers). */
export const stopDeadlineMs = 10_000;

function splitHostPort(address: string): [string, number] {
  const colon = address.lastIndexOf(":");
  return [address.slice(0, colon), Number(address.slice(colon + 1))];
}

/** Election timeouts differ per node without Math.random: seed from the name. */
function seedFrom(name: string): number {
  let hash = 0x811c9dc5;
  for (let k = 0; k < name.length; k++)
    hash = Math.imul(hash ^ name.charCodeAt(k), 0x01000193) >>> 0;
  return (hash ^ Date.now()) >>> 0;
}
