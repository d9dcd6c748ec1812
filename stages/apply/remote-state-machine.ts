import { WorkerApiClient } from "../../queues/worker-api.js";
import { WorkerPool } from "../../queues/worker-pool.js";
import type { Entry, SnapshotMeta } from "../../raft/types.js";
import type { KeySpan } from "../../storage/engines/engine.js";
import type { HistoryRead } from "../../storage/engines/revisions.js";
import type { ReplyBody } from "../items.js";
import type { ClientRequest } from "../protocol.js";
import type { LeaseJudge } from "./lease-commands.js";
import { isSessionExpiryPoint, type SessionSettings } from "./sessions.js";
import type { Applied, StateMachineOptions, StateMachinePort } from "./state-machine.js";
import type { HostData, StateMachineHostApi } from "./state-machine-host.js";

/**
 * The state machine in a worker thread (the apply stage's "workers" pool): index inserts,
 * searches and engine work leave the event loop that serves clients and peers. A worker that
 * dies rejects the call, which stops the node (the apply stage treats it as fatal).
 */
export class RemoteStateMachine implements StateMachinePort {
  private constructor(
    private readonly host: WorkerApiClient<StateMachineHostApi>,
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
    const host = new WorkerApiClient<StateMachineHostApi>(pool);
    const machine = new RemoteStateMachine(host, options.sessions);
    const result = await host.call(0, "open", { latest, vectorsInLog, logLastIndex });
    return { machine, ...result };
  }

  /** The one worker's method `method`. */
  private call<M extends keyof StateMachineHostApi & string>(
    method: M,
    args: Parameters<StateMachineHostApi[M]>[0],
  ) {
    return this.host.call(0, method, args);
  }

  async load(): Promise<void> {
    await this.call("load", {});
  }

  async apply(entries: readonly Entry[]): Promise<Applied> {
    const { answers, changes } = await this.call("apply", { entries });
    return { answers: new Map(answers), changes };
  }

  async history(fromRevision: number, range: KeySpan, limit: number): Promise<HistoryRead> {
    return this.call("history", { fromRevision, range, limit });
  }

  async read(request: ClientRequest, appliedIndex: number): Promise<ReplyBody> {
    return this.call("read", { request, appliedIndex });
  }

  async beginCheckpoint(dir: string, index: number): Promise<boolean> {
    return this.call("beginCheckpoint", { dir, index });
  }

  /** The worker answers other calls (apply, read) while this one waits for the writing. */
  async finishCheckpoint(): Promise<void> {
    await this.call("finishCheckpoint", {});
  }

  async abortCheckpoint(): Promise<void> {
    await this.call("abortCheckpoint", {});
  }

  async restore(dir: string, index: number): Promise<void> {
    await this.call("restore", { dir, index });
  }

  async leasesDue(judge: LeaseJudge): Promise<string[]> {
    return this.call("leasesDue", { judge });
  }

  isExpiryPoint(index: number): boolean {
    return isSessionExpiryPoint(this.sessions, index);
  }

  async close(): Promise<void> {
    await this.call("close", {});
    await this.host.pool.close();
  }
}
