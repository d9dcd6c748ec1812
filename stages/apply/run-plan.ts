import type { KvCommand } from "../../storage/engines/engine.js";
import type { KvChanges } from "../../storage/engines/revisions.js";
import type { ReplyBody } from "../items.js";

/** What one run of entries gathers before its KV batch, and answers after it. */
export interface RunPlan {
  readonly answers: Map<number, ReplyBody>;
  /** internal: the deletes of a lease's end; their results answer nobody. */
  readonly kvCommands: { index: number; command: KvCommand; internal?: true }[];
  readonly leaseWrites: { key: string; value: string | null }[];
  /** Session writes to record once their answer is known, in log order. */
  readonly toRecord: { id: string; seq: number; ts: number; index: number }[];
  /** A retry of a session write earlier in the run → that write's index: the same answer. */
  readonly sameAs: Map<number, number>;
  readonly firstInRun: Map<string, number>;
  /** The run's KV changes, set by the engine's sidecar call. */
  changes: readonly KvChanges[];
}

export function newRunPlan(): RunPlan {
  return {
    answers: new Map(),
    kvCommands: [],
    leaseWrites: [],
    toRecord: [],
    sameAs: new Map(),
    firstInRun: new Map(),
    changes: [],
  };
}
