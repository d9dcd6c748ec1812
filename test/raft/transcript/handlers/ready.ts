/**
 * process-ready id...: take, print and handle one Ready of each node (persist, send, advance,
 *   apply).
 * stabilize [id...]: handle Readys and deliver messages among the nodes (all by default)
 *   until nothing is left, printing all of it.
 */
import type { Command } from "../datadriven.js";
import type { Env } from "../env.js";
import { nodesOrAll } from "./args.js";

const MAX_ROUNDS = 1000;

export function processReady(env: Env, cmd: Command): void {
  const ids = nodesOrAll(cmd, env.ids);
  for (const id of ids) {
    const handle = () => {
      if (!env.processReady(id)) env.print("no Ready");
    };
    if (ids.length === 1) {
      handle();
      continue;
    }
    env.print(`> ${id} handling Ready`);
    env.indented(handle);
  }
}

export function stabilize(env: Env, cmd: Command): void {
  const ids = nodesOrAll(cmd, env.ids);
  for (let round = 0; ; round++) {
    if (round >= MAX_ROUNDS) throw new Error(`line ${cmd.line}: stabilize did not settle`);
    let busy = false;
    for (const id of ids) {
      if (!env.peer(id).node.hasReady()) continue;
      busy = true;
      env.print(`> ${id} handling Ready`);
      env.indented(() => env.processReady(id));
    }
    for (const id of ids) {
      const inbox = env.take(id, (m) => ids.includes(m.from));
      if (inbox.length === 0) continue;
      busy = true;
      env.print(`> ${id} receiving messages`);
      env.indented(() => {
        for (const m of inbox) env.deliver(m);
      });
    }
    if (!busy) return;
  }
}
