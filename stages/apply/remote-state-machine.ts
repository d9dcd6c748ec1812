import { WorkerPool } from "../../queues/worker-pool.js";
import type { Entry, SnapshotMeta } from "../../raft/types.js";
import type { KeySpan } from "../../storage/engines/engine.js";
import type { HistoryRead } from "../../storage/engines/revisions.js";
import type { ReplyBody } from "../items.js";
import type { ClientRequest } from "../protocol.js";
import type { LeaseJudge } from "./lease-commands.js";
import { isSessionExpiryPoint, type SessionSettings } from "./sessions.js";
import type { Applied, StateMachineOptions, StateMachinePort } from "./state-machine.js";
import type { HostApplied, HostCall, HostData } from "./state-machine-host.js";

/**
 * The state machine in a worker thread (the apply stage's "workers" pool): index inserts,
 * searches and engine work leave the event loop that serves clients and peers. A worker that
 * dies rejects the call, which stops the node (the apply stage treats it as fatal).
 */
export class RemoteStateMachine implements StateMachinePort {
  private constructor(
    private readonly pool: WorkerPool,
    private readonly sessions: SessionSettings,
  ) {}

  static async open(
    options: StateMachineOptions,
    snapshotDir: string,
    latest: SnapshotMeta | null,
    vectorsInLog: boolean,
    logLastIndex: number,
  ): Promise<{
    machine: RemoteStateMachine;
    applied: number;
    kvApplied: number;
    kvRebuild: string | null;
    kvAhead: number;
  }> {
    const data: HostData = { options, snapshotDir };
    const pool = new WorkerPool(new URL("./state-machine-host.js", import.meta.url), {
      size: 1,
      workerData: () => data,
      restartsMax: 0,
      name: "apply",
    });
    const machine = new RemoteStateMachine(pool, options.sessions);
    const result = (await machine.call({
      method: "open",
      latest,
      vectorsInLog,
      logLastIndex,
    })) as {
      applied: number;
      kvApplied: number;
      kvRebuild: string | null;
      kvAhead: number;
    };
    return { machine, ...result };
  }

  private call(call: HostCall): Promise<unknown> {
    return this.pool.call(0, call);
  }

  async load(): Promise<void> {
    await this.call({ method: "load" });
  }

  async apply(entries: readonly Entry[]): Promise<Applied> {
    const { answers, changes } = (await this.call({ method: "apply", entries })) as HostApplied;
    return { answers: new Map(answers), changes };
  }

  async history(fromRevision: number, range: KeySpan, limit: number): Promise<HistoryRead> {
    return (await this.call({ method: "history", fromRevision, range, limit })) as HistoryRead;
  }

  async read(request: ClientRequest, appliedIndex: number): Promise<ReplyBody> {
    return (await this.call({ method: "read", request, appliedIndex })) as ReplyBody;
  }

  async beginCheckpoint(dir: string, index: number): Promise<boolean> {
    return (await this.call({ method: "beginCheckpoint", dir, index })) as boolean;
  }

  /** The worker answers other calls (apply, read) while this one waits for the writing. */
  async finishCheckpoint(): Promise<void> {
    await this.call({ method: "finishCheckpoint" });
  }

  async abortCheckpoint(): Promise<void> {
    await this.call({ method: "abortCheckpoint" });
  }

  async restore(dir: string, index: number): Promise<void> {
    await this.call({ method: "restore", dir, index });
  }

  async leasesDue(judge: LeaseJudge): Promise<string[]> {
    return (await this.call({ method: "leasesDue", judge })) as string[];
  }

  isExpiryPoint(index: number): boolean {
    return isSessionExpiryPoint(this.sessions, index);
  }

  async close(): Promise<void> {
    await this.call({ method: "close" });
    await this.pool.close();
  }
}
