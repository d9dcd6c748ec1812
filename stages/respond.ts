import type { Logger } from "pino";
import { Stage, type StageSnapshot } from "../queues/mod.js";
import { type ClientConnection, type ConnectionTable, owedReplyBytes } from "./connections.js";
import type {
  ReplicatePort,
  Reply,
  ReplyBody,
  ReplyRoom,
  ReplyTarget,
  RespondPort,
} from "./items.js";
import { encodeError, encodeSuccess } from "./protocol.js";

export interface RespondOptions {
  readonly capacityItems: number;
  readonly batchItems: number;
  /** Reply bytes owed to one connection past which its costly work is refused ("full"). */
  readonly maxReplyBytesPerConnection: number;
}

/**
 * Stage 6: encodes replies and writes them to their connections, corking each connection once
 * per batch. uWS bounds each socket's send buffer (maxBackpressure) and closes a client too
 * slow to drain it, so a slow reader cannot grow the server's memory. Replies to forwarded
 * requests go back to the follower that forwarded them.
 */
export class RespondStage implements RespondPort {
  readonly stage: Stage<Reply>;
  stats = { sent: 0, dropped: 0 };

  constructor(
    private readonly connections: ConnectionTable,
    private readonly replicate: Pick<ReplicatePort, "forwardReply">,
    private readonly options: RespondOptions,
    private readonly log: Logger,
  ) {
    this.stage = new Stage<Reply>("respond", (batch) => this.handle(batch), {
      capacityItems: options.capacityItems,
      batch: { maxItems: options.batchItems },
      concurrency: 1,
    });
    this.stage.on("error", (error) => this.log.error({ err: error }, "respond batch failed"));
  }

  /**
   * Every reply must reach its client (or the client must be gone): a full respond queue is a
   * bug in admission control, so it is delivered directly instead of dropped.
   */
  reply(reply: Reply): void {
    const connection = this.localConnection(reply.target);
    if (connection !== undefined) connection.queuedReplyBytes += replyBytesEstimate(reply.body);
    if (!this.stage.offer(reply)) this.handle([reply]);
  }

  /** A reply to a forwarded request goes to the follower, which bounds its own client. */
  room(target: ReplyTarget): ReplyRoom {
    if (target.kind === "remote") return "open";
    const connection = this.connections.get(target.connId);
    if (connection === undefined || connection.closed) return "gone";
    return owedReplyBytes(connection) > this.options.maxReplyBytesPerConnection ? "full" : "open";
  }

  private localConnection(target: ReplyTarget): ClientConnection | undefined {
    return target.kind === "local" ? this.connections.get(target.connId) : undefined;
  }

  snapshot(): StageSnapshot {
    return this.stage.snapshot();
  }

  private handle(batch: Reply[]): void {
    const byConnection = new Map<number, string[]>();
    for (const { target, body } of batch) {
      const connection = this.localConnection(target);
      if (connection !== undefined) connection.queuedReplyBytes -= replyBytesEstimate(body);
      const text = body.ok
        ? encodeSuccess(target.id, body.result)
        : encodeError(target.id, body.error);
      if (target.kind === "remote") {
        this.replicate.forwardReply(target.node, target.forwardId, text);
        continue;
      }
      const texts = byConnection.get(target.connId);
      if (texts === undefined) byConnection.set(target.connId, [text]);
      else texts.push(text);
    }
    for (const [connId, texts] of byConnection) this.deliver(connId, texts);
  }

  /** Send already-encoded replies to one local connection. */
  deliver(connId: number, texts: readonly string[]): void {
    const connection = this.connections.get(connId);
    if (connection === undefined || connection.closed) {
      this.stats.dropped += texts.length;
      return;
    }
    connection.inflight -= texts.length;
    connection.cork(() => {
      for (const text of texts) connection.send(text);
    });
    this.stats.sent += texts.length;
  }
}

/**
 * About the encoded size of a reply (strings, one level of items, the envelope): cheap, and
 * the same for a body every time, so that adding it at reply() and taking it off at the write
 * leaves a connection's count at zero.
 */
export function replyBytesEstimate(body: ReplyBody): number {
  if (!body.ok) return 256;
  let bytes = 64;
  for (const value of Object.values(body.result)) bytes += valueBytes(value, 2);
  return bytes;
}

function valueBytes(value: unknown, depth: number): number {
  if (typeof value === "string") return value.length + 2;
  if (depth === 0 || typeof value !== "object" || value === null) return 8;
  let bytes = 2;
  if (Array.isArray(value)) {
    for (const item of value) bytes += valueBytes(item, depth - 1) + 1;
    return bytes;
  }
  for (const [key, item] of Object.entries(value))
    bytes += key.length + 4 + valueBytes(item, depth - 1);
  return bytes;
}
