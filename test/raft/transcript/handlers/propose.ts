/**
 * propose id data: a normal entry; prints where it went or why it was refused.
 * propose-conf-change id v4 l5 r3: add voter 4, add learner 5, remove 3 (one proposal).
 */
import type { ConfigChange, ProposeResult } from "../../../../raft/mod.js";
import type { Command } from "../datadriven.js";
import type { Env } from "../env.js";
import { fail, word } from "./args.js";

const encoder = new TextEncoder();

export function formatResult(result: ProposeResult): string {
  if (result.ok) return `ok: ${result.term}/${result.index}`;
  return `refused: ${result.reason} (leader ${result.leader ?? "none"})`;
}

export function propose(env: Env, cmd: Command): void {
  const id = word(cmd, 0);
  const data = encoder.encode(word(cmd, 1));
  env.observe(id, (node) => env.print(formatResult(node.propose(data))));
}

export function proposeConfChange(env: Env, cmd: Command): void {
  const id = word(cmd, 0);
  const changes = cmd.positional.slice(1).map((token): ConfigChange => {
    const node = token.slice(1);
    if (token.startsWith("v")) return { type: "addVoter", node };
    if (token.startsWith("l")) return { type: "addLearner", node };
    if (token.startsWith("r")) return { type: "remove", node };
    return fail(cmd, `${token}: expected v<id>, l<id> or r<id>`);
  });
  if (changes.length === 0) fail(cmd, "no change given");
  env.observe(id, (node) => env.print(formatResult(node.proposeConfigChange(changes))));
}
