/**
 * hold-writes id: from now on the node's Readys are handed out and their messages sent at
 *   once, but their disk writes wait (a slow disk, or group commit).
 * persist id: the held writes complete, in order: each is advanced, its "after persist"
 *   messages go out, its committed entries are applied. Writes are no longer held.
 */
import type { Command } from "../datadriven.js";
import type { Env } from "../env.js";
import { formatMessage } from "../format.js";
import { word } from "./args.js";

export function holdWrites(env: Env, cmd: Command): void {
  const peer = env.peer(word(cmd, 0));
  peer.held ??= [];
}

export function persist(env: Env, cmd: Command): void {
  const peer = env.peer(word(cmd, 0));
  const held = peer.held ?? [];
  peer.held = null;
  const before = env.queue.length;
  const appliedBefore = peer.applied;
  for (const ready of held) env.complete(peer, ready);
  env.print(`${peer.id} persisted ${held.length} Ready${held.length === 1 ? "" : "s"}`);
  for (const m of env.queue.slice(before)) env.print(`sent: ${formatMessage(m)}`);
  if (peer.applied > appliedBefore) env.print(`applied up to ${peer.applied}`);
}
