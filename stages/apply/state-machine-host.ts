/**
 * The worker thread of the apply stage's "workers" pool: it owns the state machine (engines,
 * vector indexes, session table), and the apply stage calls it through RemoteStateMachine.
 */
import { workerData } from "node:worker_threads";
import { serveWorker } from "../../queues/worker-entry.js";
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

export type HostCall =
  | {
      readonly method: "open";
      readonly latest: SnapshotMeta | null;
      readonly vectorsInLog: boolean;
      readonly logLastIndex: number;
    }
  | { readonly method: "load" }
  | { readonly method: "apply"; readonly entries: readonly Entry[] }
  | {
      readonly method: "history";
      readonly fromRevision: number;
      readonly range: KeySpan;
      readonly limit: number;
    }
  | { readonly method: "read"; readonly request: ClientRequest; readonly appliedIndex: number }
  | { readonly method: "beginCheckpoint"; readonly dir: string; readonly index: number }
  | { readonly method: "finishCheckpoint" }
  | { readonly method: "abortCheckpoint" }
  | { readonly method: "restore"; readonly dir: string; readonly index: number }
  | { readonly method: "leasesDue"; readonly judge: LeaseJudge }
  | { readonly method: "close" };

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

serveWorker<HostCall, unknown>(async (call) => {
  switch (call.method) {
    case "open": {
      const snapshots = new SnapshotStore(data.snapshotDir);
      await snapshots.open();
      const result = await openStateMachine(
        data.options,
        snapshots,
        call.latest,
        call.vectorsInLog,
        call.logLastIndex,
      );
      machine = result.machine;
      return {
        applied: result.applied,
        kvApplied: result.kvApplied,
        kvRebuild: result.kvRebuild,
        kvAhead: result.kvAhead,
      };
    }
    case "load":
      return opened().load();
    case "apply": {
      const { answers, changes } = await opened().apply(call.entries);
      return { answers: [...answers], changes } satisfies HostApplied;
    }
    case "history":
      return opened().history(call.fromRevision, call.range, call.limit);
    case "read":
      return opened().read(call.request, call.appliedIndex);
    case "beginCheckpoint":
      return opened().beginCheckpoint(call.dir, call.index);
    case "finishCheckpoint":
      return opened().finishCheckpoint();
    case "abortCheckpoint":
      return opened().abortCheckpoint();
    case "restore":
      return opened().restore(call.dir, call.index);
    case "leasesDue":
      return opened().leasesDue(call.judge);
    case "close":
      return opened().close();
  }
});
