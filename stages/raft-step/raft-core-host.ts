/**
 * A worker thread of the raft-step stage's "workers" pool: it owns the Raft groups pinned to it
 * (a group always runs on the same worker, so its steps stay in order) and runs their rounds.
 */
import { isMainThread } from "node:worker_threads";
import { serveApi } from "../../queues/worker-api.js";
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

const runners = new Map<number, CoreRunner>();

function runner(group: number): CoreRunner {
  const found = runners.get(group);
  if (found === undefined) throw new Error(`raft core host: group ${group} is not open here`);
  return found;
}

/** What a raft-step worker serves (RemoteRaftCore calls it). */
export const coreHostApi = {
  open({ spec }: { spec: GroupSpec }): CoreView {
    if (runners.has(spec.config.group))
      throw new Error(`raft core host: group ${spec.config.group} is already open`);
    const raft = new RaftNode(spec.config, new SeededRandom(spec.seed), spec.restored);
    runners.set(spec.config.group, new CoreRunner(raft, spec.retainEntries));
    return coreView(raft);
  },
  round({ input }: { input: RoundInput }) {
    return runner(input.group).round(input, true);
  },
  close({ group }: { group: number }): null {
    runners.delete(group);
    return null;
  },
};
export type CoreHostApi = typeof coreHostApi;

// Imported for its type by the main thread too: serve only inside the worker.
if (!isMainThread) serveApi(coreHostApi);
