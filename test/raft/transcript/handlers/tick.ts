/**
 * tick id... [n=1]: tick each node n times (round-robin).
 * tick-heartbeat id: one heartbeat interval.
 * tick-election id: a leader ticks one election timeout (one check-quorum period); any other
 *   node ticks until its randomized election timer fires (it campaigns), at most 2·ET ticks,
 *   and says how many ticks that took (a function of the seed).
 */
import type { Command } from "../datadriven.js";
import type { Env } from "../env.js";
import { int, word } from "./args.js";

export function tick(env: Env, cmd: Command): void {
  const n = int(cmd, "n", 1);
  for (let k = 0; k < n; k++) {
    for (const id of cmd.positional) env.observe(id, (node) => node.tick());
  }
}

export function tickHeartbeat(env: Env, cmd: Command): void {
  const id = word(cmd, 0);
  const ticks = env.peer(id).config.heartbeatTicks;
  for (let k = 0; k < ticks; k++) env.observe(id, (node) => node.tick());
}

export function tickElection(env: Env, cmd: Command): void {
  const id = word(cmd, 0);
  const node = env.peer(id).node;
  const et = env.peer(id).config.electionTicks;
  if (node.status().role === "leader") {
    for (let k = 0; k < et; k++) env.observe(id, (n) => n.tick());
    return;
  }
  const before = node.status();
  const hadReady = node.hasReady();
  for (let k = 1; k <= 2 * et; k++) {
    env.observe(id, (n) => n.tick());
    const now = node.status();
    const fired =
      now.role !== before.role || now.term !== before.term || (!hadReady && node.hasReady());
    if (fired) {
      env.print(`${id} election timer fired after ${k} ticks`);
      return;
    }
  }
  env.print(`${id} did not campaign in ${2 * et} ticks`);
}
