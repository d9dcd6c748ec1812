import type { NodeId } from "../../../raft/types.js";
import { StateMachine } from "../../../stages/apply/mod.js";
import {
  checkKvHistory,
  type HistoryRecorder,
  type KvInput,
  type KvOutput,
} from "../../check/mod.js";
import type { NodeHost } from "./host.js";

/** The clients' history of linearizable and lease operations, checked by src/check. */
export function checkHistory(recorder: HistoryRecorder<KvInput, KvOutput>): string | null {
  const history = recorder.history();
  // A logical budget (steps), not wall time: the verdict must not depend on the machine.
  const result = checkKvHistory(history, { maxStepsPerKey: 2_000_000, timeBudgetMsPerKey: 1e9 });
  if (result.ok === true) return null;
  if (result.ok === false) return `linearizability: key ${result.key}: ${result.explanation}`;
  return `linearizability: undecided on key ${result.key}: ${result.reason}`;
}

/** Replicas that applied the same entries hold the same KV state (sessions included). */
export async function checkReplicas(hosts: readonly NodeHost[]): Promise<string | null> {
  const states = new Map<number, { node: NodeId; state: string }>();
  for (const host of hosts) {
    const life = host.life;
    if (life === null) continue;
    const applied = life.raft.status().appliedIndex;
    const state = await dumpState(life);
    const seen = states.get(applied);
    if (seen === undefined) states.set(applied, { node: host.name, state });
    else if (seen.state !== state)
      return `state-machine: ${seen.node} and ${host.name} applied up to ${applied} but differ`;
  }
  return null;
}

async function dumpState(life: NonNullable<NodeHost["life"]>): Promise<string> {
  const { machine } = life.pipeline.storage;
  if (!(machine instanceof StateMachine)) return "";
  return JSON.stringify(await machine.kv.scan({ limit: Number.MAX_SAFE_INTEGER }));
}
