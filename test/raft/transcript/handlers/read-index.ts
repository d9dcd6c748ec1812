/**
 * read-index id ctx [mode=lease]: ask for a read index; the answer comes out in a later
 * Ready's ReadStates (at once for a lease read while the lease holds).
 */
import type { Command } from "../datadriven.js";
import type { Env } from "../env.js";
import { fail, word } from "./args.js";

export function readIndex(env: Env, cmd: Command): void {
  const id = word(cmd, 0);
  const ctx = word(cmd, 1);
  const mode = cmd.named.get("mode") ?? "linearizable";
  if (mode !== "linearizable" && mode !== "lease") fail(cmd, `mode=${mode}`);
  env.observe(id, (node) => node.readIndex(ctx, mode));
}
