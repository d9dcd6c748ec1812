import pino, { type Logger } from "pino";
import type { Closer, StageSnapshot } from "../queues/mod.js";
import { RaftNode, raftConfig, SeededRandom } from "../raft/mod.js";
import type { NodeId } from "../raft/types.js";
import { StateMachine } from "../stages/apply/mod.js";
import type { IngressStage } from "../stages/ingress/mod.js";
import { Pipeline, type PipelineOptions } from "../stages/pipeline.js";
import {
  InlineRaftCore,
  type RaftCore,
  RaftCorePool,
  type Readiness,
} from "../stages/raft-step/mod.js";
import { type NodeConfig, parseInitialCluster } from "./config.js";
import type { DashboardSnapshot } from "./dashboard/observer.js";
import { fatalExit } from "./fatal.js";
import { type Lifecycle, NodeEdge, splitHostPort } from "./node-edge.js";
import { type OpenedStorage, openStorage, StartupError } from "./node-storage.js";
import { runClosers, type StopOutcome } from "./shutdown.js";

export { StartupError };

/**
 * A running node: the process around the pipeline (stages/pipeline.ts): its config, storage
 * opened before the stages, the front door (ingress, HTTP), the stop sequence and the exit.
 */
export class StageraftNode {
  private readonly lifecycle: Lifecycle;

  private constructor(
    readonly config: NodeConfig,
    readonly log: Logger,
    readonly pipeline: Pipeline,
    private readonly edge: NodeEdge,
    /** What runs the core beside raft-step (a worker pool), closed after raft-step. */
    private readonly coreClosers: readonly Closer[],
    readonly ports: { clientPort: number; peerPort: number },
    lifecycle: Lifecycle,
  ) {
    this.lifecycle = lifecycle;
  }

  static async start(
    config: NodeConfig,
    log: Logger = pino({ level: config.log.level, base: { node: config.name } }),
  ): Promise<StageraftNode> {
    const opened = await openStorage(config, log);
    const members = parseInitialCluster(config.initialCluster);
    // One Raft group per node today: the workers pool has one worker, which owns the group.
    const corePool = config.stages.raftStep.pool === "workers" ? new RaftCorePool(1) : null;
    const coreClosers: Closer[] =
      corePool === null ? [] : [{ name: "raft core pool", close: () => corePool.close() }];
    let core: RaftCore;
    try {
      core = await openCore(config, opened, corePool, log);
    } catch (error) {
      // A live worker thread would keep the process from exiting.
      await runClosers(
        [
          ...coreClosers,
          { name: "state machine", close: () => opened.machine.close() },
          { name: "wal", close: () => opened.wal.close() },
        ],
        stopDeadlineMs,
        log,
      );
      throw new StartupError(`the Raft core could not start: ${(error as Error).message}`);
    }
    const pipeline = new Pipeline(
      core,
      opened,
      pipelineOptions(config, members),
      (status) => fatalExit(log, status),
      log,
    );
    const lifecycle: Lifecycle = { stopping: false };
    const edge = new NodeEdge(
      config,
      pipeline,
      lifecycle,
      opened.wal,
      opened.snapshots,
      engines(opened),
      log,
    );
    let ports: { clientPort: number; peerPort: number };
    try {
      await pipeline.load().catch((error: Error) => {
        throw new StartupError(`the state machine could not load: ${error.message}`);
      });
      ports = await edge.start();
    } catch (error) {
      // The one cleanup path: the stop sequence, on stages that never ran.
      await runClosers(pipeline.closers([edge.closer()], coreClosers), stopDeadlineMs, log);
      throw error instanceof StartupError ? error : new StartupError((error as Error).message);
    }
    const node = new StageraftNode(config, log, pipeline, edge, coreClosers, ports, lifecycle);
    pipeline.run();
    logStarted(config, pipeline, ports, opened.applied, log);
    return node;
  }

  get ingress(): IngressStage {
    return this.edge.ingress;
  }
  get raftStep() {
    return this.pipeline.raftStep;
  }
  get walAppend() {
    return this.pipeline.walAppend;
  }
  get replicate() {
    return this.pipeline.replicate;
  }
  get apply() {
    return this.pipeline.apply;
  }
  get respond() {
    return this.pipeline.respond;
  }
  /** Resolves (with why) once this node learns that it was removed from the cluster. */
  get removed(): Promise<string> {
    return this.pipeline.removed;
  }

  stageSnapshots(): StageSnapshot[] {
    return this.pipeline.stageSnapshots();
  }

  /** What /dashboard/live pushes: stages, Raft, storage, connections and the cluster's health. */
  dashboardSnapshot(): DashboardSnapshot {
    return this.edge.observer.dashboard();
  }

  /** CONTRACT §7: /readyz's answer and /health's status; a stopping node is not ready. */
  readiness(): Readiness {
    return this.edge.readiness();
  }

  health(): Record<string, unknown> {
    return this.edge.health();
  }

  /**
   * SIGTERM: stop taking work, let the pipeline drain, close storage: the steps in reverse
   * order of start, all within `deadlineMs` whatever the node holds (a snapshot being written
   * is abandoned, not awaited). "forced": a step overran or failed and was logged, the rest
   * skipped; exiting then is safe (see runClosers).
   */
  async stop(deadlineMs = stopDeadlineMs): Promise<StopOutcome> {
    if (this.lifecycle.stopping) return "clean";
    this.lifecycle.stopping = true;
    const outcome = await runClosers(
      this.pipeline.closers([this.edge.closer()], this.coreClosers),
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
}

/** A stop finishes within this, or leaves anyway (safely: see runClosers). */
export const stopDeadlineMs = 10_000;

/** The Raft core, restored from the opened storage: inline, or in the worker pool. */
async function openCore(
  config: NodeConfig,
  opened: OpenedStorage,
  corePool: RaftCorePool | null,
  log: Logger,
): Promise<RaftCore> {
  const { wal, contents, entries, latest, applied, lastIndex, lostTo } = opened;
  const members = parseInitialCluster(config.initialCluster);
  const fresh = contents.hardState.term === 0 && entries.length === 0 && latest === null;
  const voters = fresh && config.initialClusterState === "new" ? [...members.keys()] : [];
  // Stored at the first start: a restart must not depend on flags it may be given differently.
  const initialConfig = await wal.bootstrapConfig({ voters, outgoing: [], learners: [] });
  const { raft } = config;
  const coreConfig = raftConfig(
    { id: config.name, group: 1, initialConfig },
    {
      electionTicks: raft.electionTicks,
      heartbeatTicks: raft.heartbeatTicks,
      preVote: raft.preVote,
      checkQuorum: raft.checkQuorum,
      maxAppendBytes: raft.maxAppendBytes,
      maxInflight: raft.maxInflight,
      maxUncommittedBytes: raft.maxUncommittedBytes,
      snapshotChunkBytes: raft.snapshotChunkBytes,
      leaseTicks: raft.leaseTicks,
      leaseDriftTicks: raft.leaseDriftTicks,
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
  const retainEntries = raft.snapshotRetainEntries;
  if (corePool !== null)
    return corePool.open({ config: coreConfig, seed, restored, retainEntries });
  return new InlineRaftCore(
    new RaftNode(coreConfig, new SeededRandom(seed), restored),
    retainEntries,
  );
}

/** The stages' options, from the config (its schema is the user's; these are the stages'). */
function pipelineOptions(config: NodeConfig, members: Map<NodeId, string>): PipelineOptions {
  const { stages, limits, raft } = config;
  return {
    name: config.name,
    clientAddress: config.listenClient,
    peerToken: config.auth.peerToken ?? null,
    members,
    raftStep: {
      adminTimeoutMs: Math.max(30_000, limits.requestTimeoutMs),
      vectorDefaults: {
        engine: config.engines.vector,
        hnsw: config.engines.hnsw,
        collections: config.engines.collections,
      },
      capacityItems: stages.raftStep.queueItems,
      batchItems: stages.raftStep.batchItems,
      tickMs: raft.tickMs,
      electionTimeoutMs: raft.electionTicks * raft.tickMs, // leases
      forwarding: config.forwarding,
    },
    walAppend: {
      capacityItems: stages.walAppend.queueItems,
      batchItems: stages.walAppend.batchItems,
    },
    replicate: {
      capacityItems: stages.replicate.queueItems,
      batchItems: stages.replicate.batchItems,
      maxFrameBytes: Math.min(limits.maxPeerFrameBytes, 16 << 20),
      maxBufferedBytes: 64 << 20,
      reconnectMinMs: 50,
      reconnectMaxMs: 2_000,
    },
    apply: {
      capacityItems: stages.apply.queueItems,
      batchItems: stages.apply.batchItems,
      snapshotEvery: raft.snapshotEvery,
      pool: stages.apply.pool,
    },
    respond: {
      capacityItems: stages.respond.queueItems,
      batchItems: stages.respond.batchItems,
      maxReplyBytesPerConnection: limits.maxReplyBytesPerConnection,
    },
    watch: config.watch,
    removedGraceMs: 4 * raft.electionTicks * raft.tickMs,
    admission: {
      latencyTargetMs: limits.admissionLatencyMs,
      minInflight: limits.admissionMinInflight,
    },
  };
}

function engines(opened: OpenedStorage) {
  const { machine } = opened;
  return () =>
    machine instanceof StateMachine
      ? { kv: { engine: machine.kv.name, ...machine.kv.stats() }, vectors: machine.vectors.stats() }
      : null;
}

function logStarted(
  config: NodeConfig,
  pipeline: Pipeline,
  ports: { clientPort: number; peerPort: number },
  applied: number,
  log: Logger,
): void {
  const [clientHost] = splitHostPort(config.listenClient);
  const [peerHost] = splitHostPort(config.listenPeer);
  const started = pipeline.raftStep.status();
  const { auth } = config;
  log.info(
    {
      group: 1,
      term: started.term,
      index: started.lastIndex,
      commitIndex: started.commitIndex,
      raftStepPool: pipeline.raftStep.pool,
      applyPool: config.stages.apply.pool,
      appliedIndex: applied,
      client: `${clientHost}:${ports.clientPort}`,
      peer: `${peerHost}:${ports.peerPort}`,
      engine: config.engines.kv,
      auth:
        auth.clientToken || auth.adminToken || auth.peerToken
          ? "tokens required"
          : "none: the node accepts every client and peer",
      dashboard: `http://${clientHost}:${ports.clientPort}/dashboard`,
    },
    "stageraft node started",
  );
  if ((auth.clientToken || auth.adminToken) && !auth.peerToken) {
    // Whoever reaches the peer port is a peer: it can forward admin ops and send Raft messages.
    log.warn(
      { group: 1, peer: `${peerHost}:${ports.peerPort}` },
      "client tokens are set but auth.peerToken is not: the peer port lets anyone in",
    );
  }
}

/** Election timeouts differ per node without Math.random: seed from the name. */
function seedFrom(name: string): number {
  let hash = 0x811c9dc5;
  for (let k = 0; k < name.length; k++)
    hash = Math.imul(hash ^ name.charCodeAt(k), 0x01000193) >>> 0;
  return (hash ^ Date.now()) >>> 0;
}
