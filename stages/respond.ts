import type { Logger } from "pino";
import { Stage, type StageSnapshot } from "../queues/mod.js";
import type { ConnectionTable } from "./connections.js";
import type { ReplicatePort, Reply, RespondPort } from "./items.js";
import { encodeError, encodeSuccess } from "./protocol.js";

export interface RespondOptions {
  readonly capacityItems: number;
  readonly batchItems: number;
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
    options: RespondOptions,
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
    if (!this.stage.offer(reply)) this.handle([reply]);
  }

  snapshot(): StageSnapshot {
    return this.stage.snapshot();
  }

  private handle(batch: Reply[]): void {
    const byConnection = new Map<number, string[]>();
    for (const { target, body } of batch) {
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
