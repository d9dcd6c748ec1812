import type { Logger } from "pino";
import type { Closer } from "../queues/mod.js";
import { createEtcdDoor, type EtcdDoor, type SnapshotSource } from "../stages/ingress/etcd/mod.js";
import { IngressStage } from "../stages/ingress/mod.js";
import type { Pipeline } from "../stages/pipeline.js";
import type { Readiness } from "../stages/raft-step/mod.js";
import type { SnapshotStore } from "../storage/snapshot-store.js";
import type { NodeConfig } from "./config.js";
import { loadDashboardAssets } from "./dashboard/assets.js";
import { type EnginesView, type IngressCounters, NodeObserver } from "./dashboard/observer.js";
import { renderDashboard } from "./dashboard/page.js";
import { HttpRoutes } from "./http/routes.js";
import { latestSnapshotFile } from "./http/snapshot-download.js";
import { NodeMetrics } from "./metrics.js";
import { snapshotFileHeader } from "./snapshot-file.js";

/** Whether the node is stopping (it is then not ready), shared by the routes and the node. */
export interface Lifecycle {
  stopping: boolean;
}

/**
 * The node's front door and what it shows: ingress (client WebSocket, peer port), the HTTP
 * routes, and the observer they read. The routes and the observer read each other's fields
 * through closures over this object, all assigned in the constructor.
 */
export class NodeEdge {
  readonly observer: NodeObserver;
  readonly http: HttpRoutes;
  readonly ingress: IngressStage;
  readonly metrics: NodeMetrics;
  /** etcd's v3 gRPC API, when `listenEtcd` is set (stages/ingress/etcd). */
  readonly etcd: EtcdDoor | null;

  constructor(
    private readonly config: NodeConfig,
    private readonly pipeline: Pipeline,
    private readonly lifecycle: Lifecycle,
    wal: { readonly writes: number; readonly syncs: number },
    private readonly snapshots: SnapshotStore,
    engines: () => EnginesView | null,
    log: Logger,
  ) {
    const { raftStep, walAppend, apply, replicate, directory } = pipeline;
    // What /dashboard and /metrics read: live values, taken when asked.
    this.observer = new NodeObserver({
      name: config.name,
      raft: raftStep,
      stages: () => pipeline.stageSnapshots(),
      ingress: () => this.ingressCounters(),
      wal: () => ({
        ...walAppend.stats,
        writes: wal.writes,
        syncs: wal.syncs,
        sync: config.wal.sync,
      }),
      apply: () => ({ ...apply.stats }),
      raftStep: () => raftStep.queues(),
      engines,
      members: () => directory.view(raftStep.status().config),
      links: () => replicate.peerStatus(),
    });
    raftStep.stage.on("batch", () => this.observer.observeLeader());
    this.http = this.routes(log);
    this.ingress = new IngressStage(
      pipeline.connections,
      ingressOptions(config),
      { ...pipeline.edgePorts(), http: this.http, watches: pipeline.apply },
      log.child({ stage: "ingress" }),
    );
    this.etcd = etcdDoor(config, pipeline, log, {
      latest: () => latestSnapshotFile(snapshots),
      fileHeader: snapshotFileHeader,
    });
    // Built at start (after ingress, whose counters it reads): the histograms and the CPU
    // counter cover the node's whole life.
    const stages = [raftStep, walAppend, replicate, apply, pipeline.respond].flatMap((s) =>
      s.stage === undefined ? [] : [s.stage],
    );
    this.metrics = new NodeMetrics(() => this.observer.local(), { node: config.name, stages });
    pipeline.respond.repliedHooks.push((target) => this.metrics.replied(target));
  }

  /** CONTRACT §7: /readyz's answer and /health's status; a stopping node is not ready. */
  readiness(): Readiness {
    if (this.lifecycle.stopping) return { ready: false, reason: "the node is stopping" };
    return this.pipeline.raftStep.readiness();
  }

  health(): Record<string, unknown> {
    const { raftStep, replicate } = this.pipeline;
    const status = raftStep.status();
    const { ready, reason } = this.readiness();
    return {
      ...raftStep.statusResult(),
      ready,
      ...(ready ? {} : { reason }),
      lastIndex: status.lastIndex,
      members: status.config,
      peers: replicate.peerStatus(),
      stages: this.pipeline.stageSnapshots(),
    };
  }

  /** Both front doors: the WebSocket one (and the peer port), then etcd's if configured. */
  async start(): Promise<{ clientPort: number; peerPort: number }> {
    const ports = await this.ingress.start();
    await this.etcd?.start();
    return ports;
  }

  closer(): Closer {
    return {
      name: "ingress",
      close: async () => {
        await this.etcd?.stop();
        await this.ingress.stop();
      },
    };
  }

  /** Both doors count together (the etcd door's RPCs as frames; its sessions as connections). */
  private ingressCounters(): IngressCounters {
    const { stats } = this.ingress;
    const etcd = this.etcd?.stats ?? { calls: 0, badRequests: 0, overloaded: 0, unauthorized: 0 };
    return {
      connections: this.pipeline.connections.size,
      frames: stats.frames + etcd.calls,
      badFrames: stats.badFrames + etcd.badRequests,
      overloaded: stats.overloaded + etcd.overloaded,
      peerDropped: stats.peerDropped,
      unauthorized: stats.unauthorized + etcd.unauthorized,
      peerFrames: stats.peerFrames,
      peerRejected: stats.peerRejected,
    };
  }

  private routes(log: Logger): HttpRoutes {
    const { config } = this;
    const { protectHttp } = config.auth;
    const page = renderDashboard(config.name, { protectHttp });
    const assets = loadDashboardAssets();
    return new HttpRoutes(
      {
        clientToken: config.auth.clientToken ?? null,
        adminToken: config.auth.adminToken ?? null,
        protectHttp,
      },
      {
        health: () => this.health(),
        readiness: () => this.readiness(),
        metrics: () => this.metrics.render(),
        dashboardHistory: () => this.observer.historyView(),
        dashboardSample: () => this.observer.sample(),
        dashboard: (token) =>
          token === null ? page : renderDashboard(config.name, { token, protectHttp }),
        dashboardSnapshot: () => this.observer.dashboardFresh(),
        dashboardAsset: (name) => assets.get(name),
        latestSnapshot: () => latestSnapshotFile(this.snapshots),
      },
      log.child({ stage: "ingress" }),
    );
  }
}

function ingressOptions(config: NodeConfig): ConstructorParameters<typeof IngressStage>[1] {
  const [clientHost, clientPort] = splitHostPort(config.listenClient);
  const [peerHost, peerPort] = splitHostPort(config.listenPeer);
  return {
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
  };
}

function etcdDoor(
  config: NodeConfig,
  pipeline: Pipeline,
  log: Logger,
  snapshots: SnapshotSource,
): EtcdDoor | null {
  if (config.listenEtcd === undefined) return null;
  const [host, port] = splitHostPort(config.listenEtcd);
  const { raftStep } = pipeline;
  return createEtcdDoor(
    pipeline.connections,
    { ...pipeline.edgePorts(), watches: pipeline.apply },
    {
      host,
      port,
      name: config.name,
      dataDir: config.dataDir,
      initialCluster: config.initialCluster,
      limits: ingressOptions(config).limits,
      maxScanLimit: config.limits.maxScanLimit,
      requestTimeoutMs: config.limits.requestTimeoutMs,
      clientToken: config.auth.clientToken ?? null,
      adminToken: config.auth.adminToken ?? null,
      snapshots,
      local: () => raftStep.status(),
    },
    log.child({ stage: "ingress", door: "etcd" }),
  );
}

export function splitHostPort(address: string): [string, number] {
  const colon = address.lastIndexOf(":");
  return [address.slice(0, colon), Number(address.slice(colon + 1))];
}
