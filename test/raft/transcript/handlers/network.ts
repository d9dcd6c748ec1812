/**
 * isolate id...: cut every link of these nodes (messages across a cut are dropped when
 *   delivered, like a lossy network).
 * cut a b: cut one link, both directions.
 * heal: mend every link.
 */
import type { Command } from "../datadriven.js";
import { Env } from "../env.js";
import { word } from "./args.js";

export function isolate(env: Env, cmd: Command): void {
  for (const id of cmd.positional) {
    for (const other of env.ids) if (other !== id) env.cuts.add(Env.link(id, other));
  }
  env.print(`cut: ${[...env.cuts].sort().join(" ")}`);
}

export function cut(env: Env, cmd: Command): void {
  env.cuts.add(Env.link(word(cmd, 0), word(cmd, 1)));
  env.print(`cut: ${[...env.cuts].sort().join(" ")}`);
}

export function heal(env: Env, _cmd: Command): void {
  env.cuts.clear();
  env.print("all links up");
}
