import pino from "pino";
import { RaftNode, type RaftSettings, raftConfig, SeededRandom } from "../../../raft/mod.js";
import type { NodeId } from "../../../raft/types.js";
import {
  openStateMachine,
  type SessionSettings,
  type StateMachinePort,
} from "../../../stages/apply/mod.js";
import type { FatalContext } from "../../../stages/items.js";
import { Pipeline, type PipelineOptions } from "../../../stages/pipeline.js";
import type { ClientRequest } from "../../../stages/protocol.js";
import { InlineRaftCore } from "../../../stages/raft-step/mod.js";
import type { ClientConnection } from "../../../stages/respond/mod.js";
import { MemoryDisk } from "../../../storage/memory-disk.js";
import { SegmentWal } from "../../../storage/segment-wal.js";
import { SnapshotStore } from "../../../storage/snapshot-store.js";
import { type SimLinks, SimTransport } from "./transport.js";
import { SimClock, type SimScheduler } from "./world.js";

/** The stages' sizes and timings in node mode: small, so that queues fill and budgets bind. */
export interface HostSettings {
  readonly raft: Partial<RaftSettings>;
  readonly tickMs: number;
  readonly queueItems: number;
  readonly sessions: SessionSettings;
  readonly requestTimeoutMs: number;
  /** A slow engine: each apply batch takes up to this many virtual ms (0: none). */
  readonly applyDelayMaxMs: number;
  /** The segment WAL's roll-over size: small, so that segments roll over often. */
  readonly segmentBytes: number;
}

/** One life of a node: the real pipeline on this life's clock, disk view and transport. */
export interface Life {
  readonly incarnation: number;
  readonly clock: SimClock;
  readonly raft: RaftNode;
  readonly pipeline: Pipeline;
  readonly transport: SimTransport;
}

/** A fatal error in a stage (the node would exit 70): recorded, and the node loses power. */
export interface FatalRecord {
  readonly node: NodeId;
  readonly stage: FatalContext["stage"];
  readonly message: string;
  readonly error: string;
}

const quiet = pino({ level: "silent" });

/**
 * A node of remu's node mode: its disk survives crashes; each boot opens the segment WAL on it and
 * assembles the production pipeline (stages/pipeline.ts) with the memory KV engine, sessions
 * and admin ops, on the simulated clock and network. Worker pools are inline.
 */
export class NodeHost {
  disk = new MemoryDisk();
  life: Life | null = null;
  /** Removed from the cluster: off, its disk wiped, until it is added back. */
  retired = false;
  /** Its next first boot joins an existing cluster (bootstraps with no voters). */
  private joining = false;
  incarnation = 0;
  /** A boot in progress (opening the WAL takes virtual time when fsync is slow). */
  booting = false;

  constructor(
    readonly name: NodeId,
    private readonly members: ReadonlyMap<NodeId, string>,
    private readonly scheduler: SimScheduler,
    private readonly links: SimLinks,
    private readonly settings: HostSettings,
    private readonly random: SeededRandom,
    private readonly onFatal: (record: FatalRecord) => void,
  ) {}

  /** Power on: load the WAL, rebuild the state machine by replaying it, start the stages. */
  async boot(): Promise<void> {
    if (this.life !== null || this.booting) return;
    this.booting = true;
    const incarnation = ++this.incarnation;
    const clock = new SimClock(this.scheduler);
    // The production WAL on the simulated disk (no dir lock: it is a process's concern).
    const wal = await SegmentWal.open(`remu:${this.name}`, {
      sync: true,
      segmentBytes: this.settings.segmentBytes,
      files: this.disk.files({ sleep: (ms) => clock.sleep(ms), random: () => this.random.float() }),
    });
    const contents = await wal.load();
    const fresh = contents.hardState.term === 0 && contents.entries.length === 0;
    const voters = fresh && !this.joining ? [...this.members.keys()] : [];
    const initialConfig = await wal.bootstrapConfig({ voters, outgoing: [], learners: [] });
    const raft = new RaftNode(
      raftConfig({ id: this.name, group: 1, initialConfig }, this.settings.raft),
      new SeededRandom(this.random.next32()),
      // As src/node.ts: a commit index stored above the log means synced entries were lost;
      // the core then neither votes nor campaigns until it holds them again.
      {
        hardState: { ...contents.hardState, commit: contents.storedCommit },
        snapshot: null,
        entries: contents.entries,
        applied: 0,
      },
    );
    // Never opened: no snapshot is taken in node mode (the store is file-based).
    const snapshots = new SnapshotStore(`/nonexistent/remu/${this.name}`);
    const lastIndex = contents.entries.at(-1)?.index ?? 0;
    const opened = await openStateMachine(
      {
        kvEngine: "memory",
        dataDir: "",
        vectors: { defaultEngine: "flat", hnsw: { m: 8, efConstruction: 32, efSearch: 32 } },
        sessions: this.settings.sessions,
      },
      snapshots,
      null,
      false,
      lastIndex,
    );
    const transport = new SimTransport(this.name, this.peers(), this.links);
    const pipeline = new Pipeline(
      new InlineRaftCore(raft, 1_000),
      { wal, snapshots, machine: this.slow(opened.machine, clock), applied: opened.applied },
      this.pipelineOptions(),
      () => (error, context) => this.fatal(incarnation, error, context),
      quiet,
      { clock, transport: () => transport },
    );
    await pipeline.load();
    this.booting = false;
    if (incarnation !== this.incarnation) return; // lost power while booting
    this.life = { incarnation, clock, raft, pipeline, transport };
    pipeline.run();
  }

  /**
   * Power loss: the clock stops (this life's timers and pending disk syncs never resume), the
   * links close, the disk's cache is lost or torn, client connections drop.
   */
  crash(): void {
    const life = this.life;
    this.incarnation++;
    this.booting = false;
    this.life = null;
    this.disk.powerLoss(() => this.random.float());
    if (life === null) return;
    life.clock.stop();
    life.transport.close();
    life.pipeline.connections.closeAll();
  }

  /** Removed from the cluster: power off and wipe the disk (an operator's fresh data dir). */
  retire(): void {
    this.crash();
    const { faults, onSync } = this.disk;
    this.disk = new MemoryDisk();
    this.disk.faults = faults;
    this.disk.onSync = onSync;
    this.retired = true;
    this.joining = true;
  }

  private fatal(incarnation: number, error: unknown, context: FatalContext): never {
    if (incarnation === this.life?.incarnation) {
      this.onFatal({
        node: this.name,
        stage: context.stage,
        message: context.message,
        error: (error as Error)?.message ?? String(error),
      });
      this.crash();
    }
    // A node would exit 70 here; in remu the node lost power above and the stack unwinds.
    return undefined as never;
  }

  /** The state machine, its apply batches taking virtual time (queues behind it then fill). */
  private slow(machine: StateMachinePort, clock: SimClock): StateMachinePort {
    const maxMs = this.settings.applyDelayMaxMs;
    if (maxMs <= 0) return machine;
    const random = this.random;
    return new Proxy(machine, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (property !== "apply" || typeof value !== "function") return value;
        return async (...args: unknown[]) => {
          await clock.sleep(random.int(maxMs + 1));
          return value.apply(target, args);
        };
      },
    });
  }

  private peers(): Map<NodeId, string> {
    return new Map([...this.members].filter(([name]) => name !== this.name));
  }

  private pipelineOptions(): PipelineOptions {
    const { queueItems, tickMs, requestTimeoutMs } = this.settings;
    const queue = { capacityItems: queueItems, batchItems: Math.max(1, queueItems >> 2) };
    return {
      name: this.name,
      clientAddress: `${this.name}:client`,
      peerToken: null,
      members: this.members,
      raftStep: {
        ...queue,
        tickMs,
        forwarding: true,
        adminTimeoutMs: 4 * requestTimeoutMs,
        electionTimeoutMs: tickMs * (this.settings.raft.electionTicks ?? 10), // leases
        vectorDefaults: {
          engine: "flat",
          hnsw: { m: 8, efConstruction: 32, efSearch: 32 },
          collections: {},
        },
      },
      walAppend: queue,
      replicate: {
        ...queue,
        maxFrameBytes: 1 << 20,
        maxBufferedBytes: 1 << 20,
        reconnectMinMs: 50,
        reconnectMaxMs: 500,
      },
      apply: { ...queue, snapshotEvery: 0, pool: "inline" },
      respond: { ...queue, maxReplyBytesPerConnection: 1 << 20 },
      removedGraceMs: 4 * tickMs * (this.settings.raft.electionTicks ?? 10),
      watch: { progressIntervalMs: 5_000 },
      // Response times here are the host's, not the virtual clock's: no latency limit.
      admission: { latencyTargetMs: 0, minInflight: 1 },
    };
  }
}

/**
 * An in-process admin connection added to `host`'s table, for the emulated clients and the
 * membership driver: each reply arrives parsed, and `end` runs when the node drops it.
 */
export function adminConnection<Reply>(
  host: NodeHost,
  reply: (reply: Reply) => void,
  end: () => void,
): ClientConnection {
  const table = host.life!.pipeline.connections;
  const connection: ClientConnection = {
    connId: table.allocateId(),
    admin: true,
    inflight: 0,
    queuedReplyBytes: 0,
    bufferedBytes: () => 0,
    closed: false,
    send: (text) => reply(JSON.parse(text) as Reply),
    cork: (fn) => fn(),
    end,
  };
  table.add(connection);
  return connection;
}

/**
 * Send `request` to `host`'s pipeline as ingress would: admission, then raft-step; its answer
 * comes on `connection` with `id`. False: refused at the door (OVERLOADED).
 */
export function offerRequest(
  host: NodeHost,
  connection: ClientConnection,
  id: number,
  request: ClientRequest,
  timeoutMs = 2_000,
): boolean {
  const pipeline = host.life!.pipeline;
  const deadline = host.life!.clock.now() + timeoutMs;
  const target = { kind: "local" as const, connId: connection.connId, id };
  const admitted =
    pipeline.admission.admit() &&
    pipeline.raftStep.offer({ kind: "client", target, request, admin: true, deadline });
  if (admitted) pipeline.connections.admitted(connection);
  return admitted;
}
