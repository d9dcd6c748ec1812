import type { Logger } from "pino";
import { type Clock, Stage, type StageSnapshot, systemClock } from "../../queues/mod.js";
import type {
  LocalReplyTarget,
  QueuedReply,
  ReplicatePort,
  Reply,
  ReplyBody,
  ReplyRoom,
  ReplyTarget,
  RespondPort,
} from "../items.js";
import {
  type ClientOp,
  type ErrorBody,
  ErrorCode,
  encodeError,
  encodeSuccess,
  writeOps,
} from "../protocol.js";
import { type ClientConnection, type ConnectionTable, owedReplyBytes } from "./connections.js";

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
  readonly stage: Stage<QueuedReply>;
  /**
   * encodeFailed: replies that could not be encoded (answered TIMEOUT instead, logged) and
   * pushed frames that could not (their connection closed).
   */
  stats = { sent: 0, dropped: 0, encodeFailed: 0 };
  /** See each reply to a local client as it is written (request latency: metrics, admission). */
  readonly repliedHooks: ((target: LocalReplyTarget) => void)[] = [];

  constructor(
    private readonly connections: ConnectionTable,
    private readonly replicate: Pick<ReplicatePort, "forwardReply">,
    private readonly options: RespondOptions,
    private readonly log: Logger,
    clock: Clock = systemClock,
  ) {
    this.stage = new Stage<QueuedReply>("respond", (batch) => this.handle(batch), {
      capacityItems: options.capacityItems,
      batch: { maxItems: options.batchItems },
      concurrency: 1,
      now: () => clock.elapsed(),
    });
    this.stage.on("error", (error) => this.log.error({ err: error }, "respond batch failed"));
  }

  /**
   * Every reply must reach its client (or the client must be gone): a full respond queue is a
   * bug in admission control, so it is delivered directly instead of dropped.
   */
  reply(reply: Reply): void {
    this.enqueue(reply, false);
  }

  /**
   * Pushed frames count into the connection's owed bytes like replies (the same bound);
   * `bytes`: the pusher's own estimate (a watch frame's events are deeper than replies').
   */
  push(connId: number, frame: Record<string, unknown>, bytes?: number): void {
    this.enqueue(
      { target: { kind: "local", connId, id: 0 }, body: { ok: true, result: frame } },
      true,
      bytes,
    );
  }

  private enqueue(reply: Reply, push: boolean, bytes?: number): void {
    const connection = this.localConnection(reply.target);
    const bytesEstimate = connection === undefined ? 0 : (bytes ?? replyBytesEstimate(reply.body));
    if (connection !== undefined) connection.queuedReplyBytes += bytesEstimate;
    const queued: QueuedReply = { ...reply, bytesEstimate, ...(push ? { push } : {}) };
    if (!this.stage.offer(queued)) this.handle([queued]);
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

  private handle(batch: QueuedReply[]): void {
    const byConnection = new Map<number, { texts: string[]; answered: number }>();
    /** Connections closed for a frame that could not be encoded: nothing more goes to them. */
    const ending = new Set<number>();
    for (const reply of batch) {
      const { target } = reply;
      try {
        if (target.kind === "local" && ending.has(target.connId)) continue;
        const text = reply.push ? this.encodePush(reply) : this.encode(reply);
        if (text === null) {
          if (target.kind === "local") ending.add(target.connId);
          continue;
        }
        if (target.kind === "remote") {
          this.replicate.forwardReply(target.node, target.forwardId, text);
          continue;
        }
        if (!reply.push) this.replied(target);
        let texts = byConnection.get(target.connId);
        if (texts === undefined) {
          texts = { texts: [], answered: 0 };
          byConnection.set(target.connId, texts);
        }
        texts.texts.push(text);
        if (!reply.push) texts.answered++;
      } catch (error) {
        this.log.error({ err: error, target }, "a reply could not be sent");
      } finally {
        // Released once per reply whatever happened to it: a leak would refuse its client
        // for ever (its owed bytes never fall back under the bound).
        const connection = this.localConnection(target);
        if (connection !== undefined) connection.queuedReplyBytes -= reply.bytesEstimate;
      }
    }
    for (const [connId, { texts, answered }] of byConnection) this.deliver(connId, texts, answered);
    for (const connId of ending) this.connections.get(connId)?.end();
  }

  replied(target: LocalReplyTarget): void {
    for (const hook of this.repliedHooks) hook(target);
  }

  /**
   * The reply's text. One that cannot be encoded — past V8's string limit (2^29 - 24
   * characters), e.g. a range delete's prevKvs of control characters, each escaped as 6 — is
   * answered with an error saying so: TOO_LARGE for a read (nothing done), else TIMEOUT (the
   * outcome is not "nothing done") saying that the write was applied.
   */
  private encode({ target, body }: Reply): string {
    try {
      return body.ok ? encodeSuccess(target.id, body.result) : encodeError(target.id, body.error);
    } catch (error) {
      this.stats.encodeFailed++;
      this.log.error({ err: error, id: target.id }, "a reply could not be encoded");
      return encodeError(target.id, tooLargeToSend(target, body));
    }
  }

  /**
   * A pushed frame's text, or null: the hub bounds frames and events (watch-hub.ts), so this
   * is a bug, and the frame's connection is closed rather than the frame skipped — a watch
   * never skips an event; the client creates it again from the last revision it saw.
   */
  private encodePush({ target, body }: Reply): string | null {
    try {
      return JSON.stringify(body.ok && body.result);
    } catch (error) {
      this.stats.encodeFailed++;
      this.log.error(
        { err: error, target },
        "a pushed frame could not be encoded; connection closed",
      );
      return null;
    }
  }

  /** Send already-encoded frames to one local connection; `answered` of them are replies. */
  deliver(connId: number, texts: readonly string[], answered = texts.length): void {
    const connection = this.connections.get(connId);
    if (connection === undefined || connection.closed) {
      this.stats.dropped += texts.length;
      return;
    }
    this.connections.answered(connection, answered);
    connection.cork(() => {
      for (const text of texts) connection.send(text);
    });
    this.stats.sent += texts.length;
  }
}

/**
 * About the encoded size of a reply in bytes: the UTF-8 length of its strings (escapes not
 * counted), one level of items, the envelope. Computed once per reply, at reply(), and carried
 * on the queued item, so the same number is taken off at the write.
 */
export function replyBytesEstimate(body: ReplyBody): number {
  if (!body.ok) return 256;
  let bytes = 64;
  for (const value of Object.values(body.result)) bytes += valueBytes(value, 2);
  return bytes;
}

function valueBytes(value: unknown, depth: number): number {
  if (typeof value === "string") return Buffer.byteLength(value, "utf8") + 2;
  if (depth === 0 || typeof value !== "object" || value === null) return 8;
  let bytes = 2;
  if (Array.isArray(value)) {
    for (const item of value) bytes += valueBytes(item, depth - 1) + 1;
    return bytes;
  }
  for (const [key, item] of Object.entries(value))
    bytes += Buffer.byteLength(key, "utf8") + 4 + valueBytes(item, depth - 1);
  return bytes;
}

/** The error answering a reply too large to encode (see RespondStage.encode). */
function tooLargeToSend(target: ReplyTarget, body: ReplyBody): ErrorBody {
  const revision =
    body.ok && typeof body.result.revision === "number" ? body.result.revision : null;
  const op = target.kind === "local" ? target.op : undefined;
  if (op !== undefined && op in writeOps && !writeOps[op as ClientOp])
    return {
      code: ErrorCode.tooLarge,
      message: `the reply${revision === null ? "" : ` (served at revision ${revision})`} is too large to send as JSON; ask for fewer keys (limit, keysOnly)`,
    };
  const applied =
    revision === null ? "may have been applied" : `was applied at revision ${revision}`;
  return {
    code: ErrorCode.timeout,
    message: `the request ${applied}, but its reply is too large to send as JSON; ask without prevKv, or read its changes with a watch from its revision`,
  };
}
