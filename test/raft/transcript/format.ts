/**
 * A compact, stable text form of the core's values, in etcd's style: entries as
 * `term/index EntryNormal "data"`, messages as `1->2 MsgApp Term:1 Log:1/3 Commit:3 ...`.
 */

import type { RaftStatus } from "../../../raft/mod.js";
import {
  decodeConfigEntry,
  type Entry,
  EntryType,
  type MembershipConfig,
  type Message,
  type Ready,
  type SnapshotMeta,
} from "../../../raft/mod.js";

const decoder = new TextDecoder();

const list = (ids: readonly string[]): string => `(${[...ids].sort().join(",")})`;

export function formatConfig(config: MembershipConfig): string {
  let text = `voters=${list(config.voters)}`;
  if (config.outgoing.length > 0) text += `&&${list(config.outgoing)}`;
  if (config.learners.length > 0) text += ` learners=${list(config.learners)}`;
  return text;
}

export function formatEntry(entry: Entry): string {
  const position = `${entry.term}/${entry.index}`;
  if (entry.type === EntryType.config) {
    return `${position} EntryConfChange ${formatConfig(decodeConfigEntry(entry.data).config)}`;
  }
  return `${position} EntryNormal ${JSON.stringify(decoder.decode(entry.data))}`;
}

export function formatSnapshot(meta: SnapshotMeta): string {
  return `Snapshot ${meta.term}/${meta.index} size=${meta.size} ${formatConfig(meta.config)}`;
}

export function formatMessage(m: Message): string {
  const head = `${m.from}->${m.to}`;
  switch (m.type) {
    case "vote": {
      const kind = m.pre ? "MsgPreVote" : "MsgVote";
      const transfer = m.transfer ? " Transfer" : "";
      return `${head} ${kind} Term:${m.term} Log:${m.lastLogTerm}/${m.lastLogIndex}${transfer}`;
    }
    case "voteResp":
      return `${head} ${m.pre ? "MsgPreVoteResp" : "MsgVoteResp"} Term:${m.term}${rejected(!m.granted)}`;
    case "append": {
      const entries =
        m.entries.length > 0 ? ` Entries:[${m.entries.map(formatEntry).join(", ")}]` : "";
      const log = `Log:${m.prevLogTerm}/${m.prevLogIndex}`;
      return `${head} MsgApp Term:${m.term} ${log} Commit:${m.leaderCommit}${entries}`;
    }
    case "appendResp": {
      const hint = m.reject ? ` Rejected (Hint: ${m.hintTerm}/${m.hintIndex})` : "";
      return `${head} MsgAppResp Term:${m.term} Index:${m.index}${hint}`;
    }
    case "heartbeat":
      return `${head} MsgHeartbeat Term:${m.term} Commit:${m.leaderCommit}${readSeq(m.readSeq)}`;
    case "heartbeatResp":
      return `${head} MsgHeartbeatResp Term:${m.term}${readSeq(m.readSeq)}`;
    case "snapshot": {
      const chunk = `Offset:${m.offset} Len:${m.length}${m.done ? " Done" : ""}`;
      return `${head} MsgSnap Term:${m.term} Snapshot:${m.meta.term}/${m.meta.index} ${chunk}`;
    }
    case "snapshotResp":
      return `${head} MsgSnapResp Term:${m.term} Snapshot:${m.snapshotIndex} Next:${m.nextOffset}${rejected(m.reject)}`;
    case "timeoutNow":
      return `${head} MsgTimeoutNow Term:${m.term}`;
    case "readIndex":
      return `${head} MsgReadIndex Term:${m.term} Ctx:${m.ctx}`;
    case "readIndexResp":
      return `${head} MsgReadIndexResp Term:${m.term} Ctx:${m.ctx} Index:${m.index}${m.ok ? "" : " Failed"}`;
  }
}

const rejected = (reject: boolean): string => (reject ? " Rejected" : "");
const readSeq = (seq: number): string => (seq > 0 ? ` ReadSeq:${seq}` : "");

/** One Ready, section by section; empty sections are left out. */
export function formatReady(ready: Ready): string[] {
  const out: string[] = [];
  const soft = ready.softState;
  if (soft !== null) out.push(`State:${soft.role} Leader:${soft.leader ?? "none"}`);
  const hard = ready.hardState;
  if (hard !== null) {
    out.push(`HardState Term:${hard.term} Vote:${hard.vote ?? "none"} Commit:${hard.commit}`);
  }
  for (const chunk of ready.snapshotChunks) {
    const done = chunk.done ? " Done" : "";
    out.push(`SnapshotChunk ${chunk.meta.term}/${chunk.meta.index} Offset:${chunk.offset}${done}`);
  }
  if (ready.snapshot !== null) out.push(formatSnapshot(ready.snapshot));
  section(out, "Entries:", ready.entries.map(formatEntry));
  section(out, "Committed:", ready.committed.map(formatEntry));
  section(out, "Messages:", ready.messages.map(formatMessage));
  section(out, "Messages after persist:", ready.persistedMessages.map(formatMessage));
  section(
    out,
    "ReadStates:",
    ready.readStates.map((r) => (r.ok ? `Ctx:${r.ctx} Index:${r.index}` : `Ctx:${r.ctx} Failed`)),
  );
  return out;
}

function section(out: string[], title: string, lines: readonly string[]): void {
  if (lines.length === 0) return;
  out.push(title, ...lines);
}

export function formatStatus(status: RaftStatus): string {
  const transfer = status.leadTransferee === null ? "" : ` transferee=${status.leadTransferee}`;
  return [
    `${status.id}: ${status.role} term=${status.term} leader=${status.leader ?? "none"}`,
    `vote=${status.vote ?? "none"} commit=${status.commitIndex} applied=${status.appliedIndex}`,
    `log=[${status.firstIndex},${status.lastIndex}] ${formatConfig(status.config)}${transfer}`,
  ].join(" ");
}
