/**
 * add-nodes n voters=(1,2,3) [learners=(4)] [prevote=true] [checkquorum=true] [election=10]
 *   [heartbeat=1] [max-append-bytes=...] [snapshot-chunk=...] [lease=2] [lease-drift=2]
 * Adds n nodes, numbered after the existing ones. Listed in no configuration (voters=()),
 * a node joins later and learns the membership from its leader.
 */
import type { RaftSettings } from "../../../../raft/mod.js";
import type { Command } from "../datadriven.js";
import type { Env } from "../env.js";
import { formatConfig } from "../format.js";
import { bool, ids, int, word } from "./args.js";

export function addNodes(env: Env, cmd: Command): void {
  const count = Number(word(cmd, 0));
  const initialConfig = {
    voters: ids(cmd, "voters"),
    outgoing: [],
    learners: ids(cmd, "learners"),
  };
  const settings: Partial<RaftSettings> = {
    preVote: bool(cmd, "prevote", false),
    checkQuorum: bool(cmd, "checkquorum", false),
    electionTicks: int(cmd, "election", 10),
    heartbeatTicks: int(cmd, "heartbeat", 1),
    leaseTicks: int(cmd, "lease", 2),
    leaseDriftTicks: int(cmd, "lease-drift", 2),
    maxAppendBytes: int(cmd, "max-append-bytes", 1 << 20),
    snapshotChunkBytes: int(cmd, "snapshot-chunk", 1 << 20),
    learnerCatchUpEntries: int(cmd, "learner-catch-up", 100),
  };
  for (let k = 0; k < count; k++) {
    const id = String(env.peers.size + 1);
    env.createNode(id, initialConfig, settings);
    env.print(`${id}: initial config ${formatConfig(initialConfig)}`);
  }
}
