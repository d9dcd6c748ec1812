/**
 * compact id index [size=8] [retain=0]: the node's state machine snapshotted itself at
 * `index` (size bytes of deterministic data); the log is compacted, keeping `retain` entries.
 */
import type { Command } from "../datadriven.js";
import type { Env } from "../env.js";
import { formatSnapshot } from "../format.js";
import { int, word } from "./args.js";

export function compact(env: Env, cmd: Command): void {
  const peer = env.peer(word(cmd, 0));
  const index = Number(word(cmd, 1));
  const size = int(cmd, "size", 8);
  const retain = int(cmd, "retain", 0);
  const data = new Uint8Array(size);
  for (let k = 0; k < size; k++) data[k] = (index * 31 + k * 7) & 0xff;
  const meta = peer.node.compact(index, size, retain);
  peer.disk.compact({ meta, data }, retain);
  const status = peer.node.status();
  env.print(`${formatSnapshot(meta)}; log=[${status.firstIndex},${status.lastIndex}]`);
}
