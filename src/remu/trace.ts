import type { Message } from "../../raft/mod.js";

type TraceItem =
  | { readonly at: number; readonly line: string }
  | { readonly at: number; readonly message: Message; readonly verb: string };

/**
 * The last events of a run, kept in a ring so a failing seed can show how it got there.
 * Messages are stored as objects and only formatted when printed: tracing stays cheap.
 */
export class Trace {
  private readonly ring: (TraceItem | undefined)[];
  private next = 0;
  private count = 0;
  /** Echo every event to this sink as it happens (remu --verbose). */
  sink: ((line: string) => void) | null = null;

  constructor(readonly capacity = 400) {
    this.ring = new Array<TraceItem | undefined>(capacity);
  }

  add(timeMs: number, line: string): void {
    this.push({ at: timeMs, line });
  }

  message(timeMs: number, verb: string, message: Message): void {
    this.push({ at: timeMs, message, verb });
  }

  private push(item: TraceItem): void {
    this.ring[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
    if (this.sink) this.sink(format(item));
  }

  lines(): string[] {
    const out: string[] = [];
    for (let k = 0; k < this.count; k++) {
      out.push(format(this.ring[(this.next - this.count + k + this.capacity) % this.capacity]!));
    }
    return out;
  }
}

function format(item: TraceItem): string {
  const time = `t=${item.at.toFixed(1).padStart(9)}ms`;
  if ("line" in item) return `${time} ${item.line}`;
  return `${time}   ${item.verb} ${describeMessage(item.message)}`;
}

export function describeMessage(m: Message): string {
  const head = `${m.from}→${m.to} ${m.type} t${m.term}`;
  switch (m.type) {
    case "vote":
      return `${head}${m.pre ? " pre" : ""}${m.transfer ? " transfer" : ""} last (${m.lastLogIndex},t${m.lastLogTerm})`;
    case "voteResp":
      return `${head}${m.pre ? " pre" : ""} ${m.granted ? "granted" : "rejected"}`;
    case "append": {
      const first = m.entries[0]?.index;
      const range = first === undefined ? "no entries" : `[${first}..${m.entries.at(-1)!.index}]`;
      return `${head} prev (${m.prevLogIndex},t${m.prevLogTerm}) ${range} commit ${m.leaderCommit}`;
    }
    case "appendResp":
      return m.reject
        ? `${head} REJECT ${m.index} hint (${m.hintIndex},t${m.hintTerm})`
        : `${head} match ${m.index}`;
    case "heartbeat":
      return `${head} commit ${m.leaderCommit} readSeq ${m.readSeq}`;
    case "heartbeatResp":
      return `${head} readSeq ${m.readSeq}`;
    case "snapshot":
      return `${head} at ${m.meta.index} [${m.offset}+${m.length}]${m.done ? " done" : ""}`;
    case "snapshotResp":
      return `${head} at ${m.snapshotIndex} next ${m.nextOffset}${m.reject ? " REJECT" : ""}`;
    case "timeoutNow":
      return head;
    case "readIndex":
      return `${head} ${m.ctx}`;
    case "readIndexResp":
      return `${head} ${m.ctx} ${m.ok ? `index ${m.index}` : "failed"}`;
  }
}
