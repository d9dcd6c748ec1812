import type { Message } from "../../raft/mod.js";

/** A refusal: a vote not granted, an append or snapshot rejected, a read index failed. */
export function refused(m: Message): boolean {
  switch (m.type) {
    case "voteResp":
      return !m.granted;
    case "appendResp":
    case "snapshotResp":
      return m.reject;
    case "readIndexResp":
      return !m.ok;
    default:
      return false;
  }
}

/** A message's key fields, compactly (the sequence diagram's arrow labels). */
export function messageFields(m: Message): string {
  const term = `t${m.term}`;
  switch (m.type) {
    case "vote":
      return `${term}${m.pre ? " pre" : ""}${m.transfer ? " transfer" : ""} last (${m.lastLogIndex},t${m.lastLogTerm})`;
    case "voteResp":
      return `${term}${m.pre ? " pre" : ""} ${m.granted ? "granted" : "rejected"}`;
    case "append": {
      const first = m.entries[0]?.index;
      const range = first === undefined ? "[]" : `[${first}..${m.entries.at(-1)!.index}]`;
      return `${term} prev (${m.prevLogIndex},t${m.prevLogTerm}) ${range} commit ${m.leaderCommit}`;
    }
    case "appendResp":
      return m.reject
        ? `${term} REJECT ${m.index} hint (${m.hintIndex},t${m.hintTerm})`
        : `${term} match ${m.index}`;
    case "heartbeat":
      return `${term} commit ${m.leaderCommit} seq ${m.readSeq}`;
    case "heartbeatResp":
      return `${term} seq ${m.readSeq}`;
    case "snapshot":
      return `${term} at ${m.meta.index} [${m.offset}+${m.length}]${m.done ? " done" : ""}`;
    case "snapshotResp":
      return `${term} at ${m.snapshotIndex} next ${m.nextOffset}${m.reject ? " REJECT" : ""}`;
    case "timeoutNow":
      return term;
    case "readIndex":
      return `${term} ${m.ctx}`;
    case "readIndexResp":
      return `${term} ${m.ctx} ${m.ok ? `index ${m.index}` : "failed"}`;
  }
}
