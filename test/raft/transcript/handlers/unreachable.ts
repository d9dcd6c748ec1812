/**
 * peer-unreachable id peer: `id`'s transport reports that `peer`'s process is gone (its link
 *   closed and a reconnect was refused), as a killed process's peers see it.
 */
import type { Command } from "../datadriven.js";
import type { Env } from "../env.js";
import { word } from "./args.js";

export function peerUnreachable(env: Env, cmd: Command): void {
  const id = word(cmd, 0);
  const peer = word(cmd, 1);
  env.observe(id, (node) => node.peerUnreachable(peer));
}
