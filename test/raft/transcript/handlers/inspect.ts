/**
 * status id...: role, term, leader, vote, commit, applied, log bounds, configuration.
 * raft-log id: what the node's disk holds: its snapshot, then its entries.
 */
import type { Command } from "../datadriven.js";
import type { Env } from "../env.js";
import { formatEntry, formatSnapshot, formatStatus } from "../format.js";
import { nodesOrAll, word } from "./args.js";

export function status(env: Env, cmd: Command): void {
  for (const id of nodesOrAll(cmd, env.ids)) env.print(formatStatus(env.peer(id).node.status()));
}

export function raftLog(env: Env, cmd: Command): void {
  const disk = env.peer(word(cmd, 0)).disk;
  if (disk.snapshot !== null) {
    const hex = Buffer.from(disk.snapshot.data).toString("hex");
    env.print(`${formatSnapshot(disk.snapshot.meta)} data=${hex}`);
  }
  for (const entry of disk.entries) env.print(formatEntry(entry));
  if (disk.snapshot === null && disk.entries.length === 0) env.print("log is empty");
}
