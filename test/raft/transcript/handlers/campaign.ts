/**
 * campaign id: start an election now (a pre-vote first when the node has pre-vote on).
 * transfer-leader from to: ask the leader `from` to hand leadership to `to`.
 */
import type { Command } from "../datadriven.js";
import type { Env } from "../env.js";
import { word } from "./args.js";
import { formatResult } from "./propose.js";

export function campaign(env: Env, cmd: Command): void {
  const id = word(cmd, 0);
  const preVote = env.peer(id).config.preVote;
  env.observe(id, (node) => node.campaign(preVote ? "pre" : "real"));
}

export function transferLeader(env: Env, cmd: Command): void {
  const from = word(cmd, 0);
  const to = word(cmd, 1);
  env.observe(from, (node) => env.print(formatResult(node.transferLeadership(to))));
}
