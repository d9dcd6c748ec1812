/**
 * deliver-msgs id... [type=MsgApp] [from=x]: step every queued message to these nodes (in the
 *   order sent) into them; messages across a cut link are dropped.
 * drop-msgs id... [type=...] [from=x]: lose them instead.
 */
import type { Message } from "../../../../raft/mod.js";
import type { Command } from "../datadriven.js";
import type { Env } from "../env.js";
import { formatMessage } from "../format.js";
import { nodesOrAll } from "./args.js";

function filterOf(cmd: Command): (m: Message) => boolean {
  const type = cmd.named.get("type");
  const from = cmd.named.get("from");
  return (m) =>
    (type === undefined || formatMessage(m).split(" ")[1] === type) &&
    (from === undefined || m.from === from);
}

export function deliverMsgs(env: Env, cmd: Command): void {
  const filter = filterOf(cmd);
  let any = false;
  for (const id of nodesOrAll(cmd, env.ids)) {
    for (const m of env.take(id, filter)) {
      any = true;
      env.deliver(m);
    }
  }
  if (!any) env.print("no messages");
}

export function dropMsgs(env: Env, cmd: Command): void {
  const filter = filterOf(cmd);
  let any = false;
  for (const id of nodesOrAll(cmd, env.ids)) {
    for (const m of env.take(id, filter)) {
      any = true;
      env.print(`dropped: ${formatMessage(m)}`);
    }
  }
  if (!any) env.print("no messages");
}
