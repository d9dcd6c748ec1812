/**
 * A worker thread of the raft-step stage's "workers" pool: it owns the Raft groups pinned to it
 * (a group always runs on the same worker, so its steps stay in order) and runs their rounds.
 */
import { serveWorker } from "../../queues/worker-entry.js";
import type { RaftConfig } from "../../raft/config.js";
import { RaftNode } from "../../raft/node.js";
import { SeededRandom } from "../../raft/rand.js";
import type { RestoredState } from "../../raft/types.js";
import { CoreRunner, type CoreView, coreView, type RoundInput } from "./raft-core.js";

/** Everything a worker needs to build one group's core. */
export interface GroupSpec {
  readonly config: RaftConfig;
  readonly seed: number;
  readonly restored: RestoredState;
  readonly retainEntries: number;
}

export type CoreHostCall =
  | { readonly method: "open"; readonly spec: GroupSpec }
  | { readonly method: "round"; readonly input: RoundInput }
  | { readonly method: "close"; readonly group: number };

const runners = new Map<number, CoreRunner>();

function runner(group: number): CoreRunner {
  const found = runners.get(group);
  if (found === undefined) throw new Error(`raft core host: group ${group} is not open here`);
  return found;
}

serveWorker<CoreHostCall, unknown>((call) => {
  switch (call.method) {
    case "open": {
      const { spec } = call;
      if (runners.has(spec.config.group))
        throw new Error(`raft core host: group ${spec.config.group} is already open`);
      const raft = new RaftNode(spec.config, new SeededRandom(spec.seed), spec.restored);
      runners.set(spec.config.group, new CoreRunner(raft, spec.retainEntries));
      return coreView(raft) satisfies CoreView;
    }
    case "round":
      return runner(call.input.group).round(call.input, true);
    case "close":
      runners.delete(call.group);
      return null;
  }
});
