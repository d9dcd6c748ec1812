/**
 * restart id: crash the node (its queued inbound messages and everything not persisted are
 *   lost) and boot it from its disk.
 * set-log id log=(1,1,2) term=3 [vote=x] [commit=0]: replace the node's disk with a log of
 *   these terms (entry data "t<term>i<index>") and restart it: to set up Figure 7/8 logs.
 */
import { chainChecksum, type Entry, EntryType } from "../../../../raft/mod.js";
import type { Command } from "../datadriven.js";
import type { Env } from "../env.js";
import { formatStatus } from "../format.js";
import { ids, int, word } from "./args.js";

const encoder = new TextEncoder();

export function restart(env: Env, cmd: Command): void {
  const peer = env.peer(word(cmd, 0));
  const lost = env.take(peer.id).length;
  env.restart(peer);
  env.print(`${peer.id} restarted (${lost} inbound messages lost)`);
  env.print(formatStatus(peer.node.status()));
}

export function setLog(env: Env, cmd: Command): void {
  const peer = env.peer(word(cmd, 0));
  const terms = ids(cmd, "log").map(Number);
  const entries: Entry[] = [];
  let chk = 0;
  terms.forEach((term, k) => {
    const index = k + 1;
    const data = encoder.encode(`t${term}i${index}`);
    chk = chainChecksum(chk, term, index, EntryType.normal, data);
    entries.push({ term, index, type: EntryType.normal, data, chk });
  });
  const vote = cmd.named.get("vote") ?? null;
  peer.disk.hardState = { term: int(cmd, "term"), vote, commit: int(cmd, "commit", 0) };
  peer.disk.snapshot = null;
  peer.disk.entries = entries;
  env.take(peer.id);
  env.restart(peer);
  env.print(formatStatus(peer.node.status()));
}
