/**
 * The worker thread of the apply stage's "workers" pool: it owns the state machine (engines,
 * vector indexes, session table), and the apply stage calls it through RemoteStateMachine.
 */
import { isMainThread, workerData } from "node:worker_threads";
import { serveApi } from "../../queues/worker-api.js";
import type { Entry, SnapshotMeta } from "../../raft/types.js";
import type { KeySpan } from "../../storage/engines/engine.js";
import type { KvChanges } from "../../storage/engines/revisions.js";
import { SnapshotStore } from "../../storage/snapshot-store.js";
import type { ReplyBody } from "../items.js";
import type { ClientRequest } from "../protocol.js";
import type { LeaseJudge } from "./lease-commands.js";
import { openStateMachine, type StateMachine, type StateMachineOptions } from "./state-machine.js";

export interface HostData {
  readonly options: StateMachineOptions;
  readonly snapshotDir: string;
}

/** An apply's answers as entries (a Map does not cross the worker boundary as one). */
export interface HostApplied {
  readonly answers: [number, ReplyBody][];
  readonly changes: readonly KvChanges[];
}

const data = workerData as HostData;
let machine: StateMachine | null = null;

function opened(): StateMachine {
  if (machine === null) throw new Error("state machine host: open it first");
  return machine;
}

/** What the apply worker serves (RemoteStateMachine calls it). */
export const stateMachineHostApi = {
  async open(args: { latest: SnapshotMeta | null; vectorsInLog: boolean; logLastIndex: number }) {
    const snapshots = new SnapshotStore(data.snapshotDir);
    await snapshots.open();
    const result = await openStateMachine(
      data.options,
      snapshots,
      args.latest,
      args.vectorsInLog,
      args.logLastIndex,
    );
    machine = result.machine;
    const { applied, kvApplied, kvRebuild, kvAhead } = result;
    return { applied, kvApplied, kvRebuild, kvAhead };
  },
  load: (_: Record<string, never>) => opened().load(),
  async apply({ entries }: { entries: readonly Entry[] }): Promise<HostApplied> {
    const { answers, changes } = await opened().apply(entries);
    return { answers: [...answers], changes };
  },
  history: (args: { fromRevision: number; range: KeySpan; limit: number }) =>
    opened().history(args.fromRevision, args.range, args.limit),
  read: (args: { request: ClientRequest; appliedIndex: number }) =>
    opened().read(args.request, args.appliedIndex),
  beginCheckpoint: (args: { dir: string; index: number }) =>
    opened().beginCheckpoint(args.dir, args.index),
  finishCheckpoint: (_: Record<string, never>) => opened().finishCheckpoint(),
  abortCheckpoint: (_: Record<string, never>) => opened().abortCheckpoint(),
  restore: (args: { dir: string; index: number }) => opened().restore(args.dir, args.index),
  leasesDue: ({ judge }: { judge: LeaseJudge }) => opened().leasesDue(judge),
  close: (_: Record<string, never>) => opened().close(),
};
export type StateMachineHostApi = typeof stateMachineHostApi;

// Imported for its types by the main thread too: serve only inside the worker.
if (!isMainThread) serveApi(stateMachineHostApi);
