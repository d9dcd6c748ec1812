import { workerFor } from "../../queues/pool.js";
import { WorkerApiClient } from "../../queues/worker-api.js";
import { WorkerPool } from "../../queues/worker-pool.js";
import type { RaftStatus } from "../../raft/node.js";
import type { NodeId } from "../../raft/types.js";
import type { CoreView, RaftCore, RoundInput, RoundOutput } from "./raft-core.js";
import type { CoreHostApi, GroupSpec } from "./raft-core-host.js";

/**
 * The raft-step stage's "workers" pool: Raft cores in worker threads, each group pinned to one
 * worker by its id (as vraft routes by RaftId), so that one group's rounds run in order while
 * different groups run in parallel. The event loop keeps the I/O; the worker does the stepping.
 */
export class RaftCorePool {
  private readonly pool: WorkerPool;
  private readonly api: WorkerApiClient<CoreHostApi>;

  constructor(
    readonly size: number,
    /** The host module; tests running from sources point it at the compiled one. */
    entry: URL = new URL("./raft-core-host.js", import.meta.url),
  ) {
    this.pool = new WorkerPool(entry, {
      size,
      // A worker that dies takes its groups' state with it: the node must stop, not restart it.
      restartsMax: 0,
      name: "raft-step",
    });
    this.api = new WorkerApiClient(this.pool);
  }

  workerFor(group: number): number {
    return workerFor(group, this.size);
  }

  async open(spec: GroupSpec): Promise<RemoteRaftCore> {
    const group = spec.config.group;
    const worker = this.workerFor(group);
    const view = await this.api.call(worker, "open", { spec });
    return new RemoteRaftCore(this.api, worker, spec.config.id, group, view);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** One group's core in its worker; the view mirrors the core as of the last round. */
export class RemoteRaftCore implements RaftCore {
  readonly pool = "workers";

  constructor(
    private readonly workers: WorkerApiClient<CoreHostApi>,
    private readonly worker: number,
    readonly id: NodeId,
    readonly group: number,
    private lastView: CoreView,
  ) {}

  view(): CoreView {
    return this.lastView;
  }

  status(): RaftStatus {
    return this.lastView.status;
  }

  hasReady(): boolean {
    return this.lastView.hasReady;
  }

  async round(input: RoundInput): Promise<RoundOutput> {
    const { proposals, buffer } = packProposals(input.proposals);
    // The proposals move to the worker (transferred, not cloned).
    const output: RoundOutput = await this.workers.call(
      this.worker,
      "round",
      { input: { ...input, proposals } },
      buffer ? [buffer] : [],
    );
    this.lastView = output.view!;
    return output;
  }

  async close(): Promise<void> {
    await this.workers.call(this.worker, "close", { group: this.group });
  }
}

/**
 * The round's proposals copied into one buffer of their own, as views into it: that buffer can
 * be transferred to the worker. (A proposal is usually a view into an encoder's shared slab,
 * which must not be transferred, and whose clone would copy the whole slab.)
 */
export function packProposals(proposals: readonly Uint8Array[]): {
  proposals: Uint8Array[];
  buffer: ArrayBuffer | null;
} {
  if (proposals.length === 0) return { proposals: [], buffer: null };
  let total = 0;
  for (const data of proposals) total += data.length;
  const packed = new Uint8Array(total);
  const views: Uint8Array[] = [];
  let offset = 0;
  for (const data of proposals) {
    packed.set(data, offset);
    views.push(packed.subarray(offset, offset + data.length));
    offset += data.length;
  }
  return { proposals: views, buffer: packed.buffer };
}
