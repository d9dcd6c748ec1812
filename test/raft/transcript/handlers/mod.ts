/** Every command, by name: one handler file per command or small group, as etcd does. */
import type { Command } from "../datadriven.js";
import type { Env } from "../env.js";
import { addNodes } from "./add-nodes.js";
import { campaign, transferLeader } from "./campaign.js";
import { compact } from "./compact.js";
import { deliverMsgs, dropMsgs } from "./deliver.js";
import { raftLog, status } from "./inspect.js";
import { cut, heal, isolate } from "./network.js";
import { holdWrites, persist } from "./persist.js";
import { propose, proposeConfChange } from "./propose.js";
import { readIndex } from "./read-index.js";
import { processReady, stabilize } from "./ready.js";
import { restart, setLog } from "./restart.js";
import { tick, tickElection, tickHeartbeat } from "./tick.js";
import { peerUnreachable } from "./unreachable.js";

export type Handler = (env: Env, cmd: Command) => void;

export const handlers: Readonly<Record<string, Handler>> = {
  "add-nodes": addNodes,
  campaign,
  "transfer-leader": transferLeader,
  tick,
  "tick-election": tickElection,
  "tick-heartbeat": tickHeartbeat,
  propose,
  "propose-conf-change": proposeConfChange,
  "process-ready": processReady,
  "hold-writes": holdWrites,
  persist,
  stabilize,
  "deliver-msgs": deliverMsgs,
  "drop-msgs": dropMsgs,
  status,
  "raft-log": raftLog,
  "read-index": readIndex,
  compact,
  isolate,
  cut,
  heal,
  restart,
  "set-log": setLog,
  "peer-unreachable": peerUnreachable,
};
