import type { Logger } from "pino";
import type { Entry, SnapshotMeta } from "../raft/mod.js";
import {
  openStateMachine,
  RemoteStateMachine,
  type StateMachineOptions,
  type StateMachinePort,
} from "../stages/apply/mod.js";
import type { SnapshotStore } from "../storage/snapshot-store.js";
import type { NodeConfig } from "./config.js";

export type OpenedState =
  | {
      readonly ok: true;
      readonly machine: StateMachinePort;
      readonly applied: number;
      /** An index this node once applied (so held durably) that its WAL no longer has; or 0. */
      readonly lostTo: number;
    }
  | { readonly ok: false; readonly message: string };

/**
 * Open the state machine and check it against the WAL. An engine applied beyond the WAL's
 * last entry means the WAL lost synced records (only committed, durable entries apply): the
 * engine was rolled back to the snapshot, and the leader replicates the rest again. The log
 * must replay every entry the engine lacks.
 */
export async function openCheckedState(
  config: NodeConfig,
  options: StateMachineOptions,
  snapshots: SnapshotStore,
  latest: SnapshotMeta | null,
  entries: readonly Entry[],
  vectorsInLog: boolean,
  log: Logger,
): Promise<OpenedState> {
  const lastIndex = entries.at(-1)?.index ?? latest?.index ?? 0;
  const { machine, applied, kvApplied, kvRebuild, kvAhead } =
    config.stages.apply.pool === "workers"
      ? await RemoteStateMachine.open(options, snapshots.dir, latest, vectorsInLog, lastIndex)
      : await openStateMachine(options, snapshots, latest, vectorsInLog, lastIndex);
  if (kvAhead > 0)
    log.warn(
      { group: 1, index: lastIndex, engineIndex: kvAhead, engineNow: kvApplied },
      `the ${config.engines.kv} engine had applied entries beyond the WAL (the WAL lost synced entries): rolled back to the snapshot`,
    );
  const firstHeld = entries[0]?.index ?? lastIndex + 1;
  if (firstHeld > kvApplied + 1) {
    await machine.close();
    return {
      ok: false,
      message: `the ${config.engines.kv} engine is at index ${kvApplied}${kvRebuild === null ? "" : ` (${kvRebuild})`} but the WAL starts at ${firstHeld} and no snapshot covers the entries between: restore this node from a snapshot (remove and re-add it)`,
    };
  }
  if (kvRebuild !== null)
    log.warn(
      { group: 1, index: kvApplied, lastIndex, reason: kvRebuild },
      `the ${config.engines.kv} engine was emptied and is rebuilt from the snapshot and the WAL`,
    );
  return { ok: true, machine, applied, lostTo: kvAhead };
}
