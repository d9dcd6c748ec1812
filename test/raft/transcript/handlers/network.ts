/**
 * isolate id...: cut every link of these nodes (messages across a cut are dropped when
 *   delivered, like a lossy network).
 * cut a b: cut one link, both directions.
 * heal: mend every link; what is still queued across a cut is lost.
 */
import type { Command } from "../datadriven.js";
import { Env } from "../env.js";
import { formatMessage } from "../format.js";
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

/** Messages still queued across a cut were in flight during the partition: they are lost. */
export function heal(env: Env, _cmd: Command): void {
  const lost = env.queue.filter((m) => env.isCut(m));
  env.queue = env.queue.filter((m) => !env.isCut(m));
  for (const m of lost) env.print(`dropped: ${formatMessage(m)}`);
  env.cuts.clear();
  env.print("all links up");
}
