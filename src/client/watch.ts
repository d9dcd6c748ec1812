import WebSocket from "ws";
import type { ErrorBody } from "../../stages/protocol.js";
import type { KeyValue } from "../../storage/engines/revisions.js";
import { StageraftError } from "./errors.js";

/** What to watch (one of key, prefix, start/end) and how (CONTRACT §5 `watch`). */
export interface WatchOptions {
  readonly key?: string;
  readonly prefix?: string;
  readonly start?: string;
  readonly end?: string;
  /** First revision to deliver; absent: the changes applied after the watch is created. */
  readonly startRevision?: number;
  readonly prevKv?: boolean;
  readonly noPut?: boolean;
  readonly noDelete?: boolean;
}

/** One change; its revision is kv.modRevision. */
export interface WatchEvent {
  readonly type: "put" | "delete";
  readonly kv: KeyValue;
  readonly prevKv?: KeyValue;
}

export interface WatchConnectOptions {
  readonly token?: string;
  readonly connectTimeoutMs?: number;
  /** The first pause before a reconnect; doubled per failure, up to 2 s. */
  readonly retryBackoffMs?: number;
  /**
   * A ping every this many ms; a connection that carried nothing (no frame, no pong) over a
   * whole period is given up and the watch resumes elsewhere. Default 5,000.
   */
  readonly watchKeepAliveMs?: number;
}

/** Events received and not yet taken by the loop, past which the socket stops reading. */
const highWaterEvents = 1_000;
const createId = 1;
const cancelId = 2;

type Frame = Record<string, unknown> & {
  id?: number;
  ok?: boolean;
  error?: ErrorBody;
  watch?: number;
  events?: WatchEvent[];
  revision?: number;
  canceled?: boolean;
  reason?: string;
  compactRevision?: number;
  /** More frames of the same revision follow (a revision too large for one frame). */
  fragment?: boolean;
};

/**
 * A watch as an async iterable: `for await (const event of db.watch({ prefix: "cfg/" }))`.
 * It holds its own connection. When that connection is lost, or the server cancels the watch
 * because it was read too slowly, it reconnects (the next endpoint after a loss) and creates
 * the watch again from the revision after the last one received: nothing is lost or doubled.
 * A node that stops answering without closing the socket (paused, unroutable) is noticed by
 * a ping each `watchKeepAliveMs` that goes unanswered, and left the same way.
 * A start older than the kept history ends the loop with a COMPACTED StageraftError; `break`
 * cancels the watch on the server.
 */
export class WatchStream implements AsyncIterable<WatchEvent> {
  private readonly queue: WatchEvent[] = [];
  /** The fragments of one revision received so far: delivered once it is whole. */
  private partial: WatchEvent[] = [];
  private wake: (() => void) | null = null;
  private error: StageraftError | null = null;
  private done = false;
  private socket: WebSocket | null = null;
  private paused = false;
  private watchId: number | null = null;
  /** The next revision to receive (undefined until the first watch is created: "now"). */
  private nextRevision: number | undefined;
  private endpoint = 0;
  private failures = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private readonly keepAliveTimer: NodeJS.Timeout;
  /** The current socket carried a frame or a pong since the last ping. */
  private heard = true;
  /** Times the watch was created again (after a lost connection or a server cancel). */
  resumes = 0;

  constructor(
    private readonly endpoints: readonly string[],
    private readonly watch: WatchOptions,
    private readonly options: WatchConnectOptions = {},
    /** Told once, when the stream ends (the client forgets it). */
    private readonly onClose: () => void = () => {},
  ) {
    if (endpoints.length === 0) throw new Error("stageraft watch: no endpoints");
    this.nextRevision = watch.startRevision;
    this.open();
    this.keepAliveTimer = setInterval(() => this.checkAlive(), options.watchKeepAliveMs ?? 5_000);
    this.keepAliveTimer.unref();
  }

  /** Ping the connection; leave it if nothing came back since the last ping. */
  private checkAlive(): void {
    const socket = this.socket;
    // Paused by us (the reader is slow): its pongs wait unread, and silence proves nothing.
    if (socket === null || socket.readyState !== WebSocket.OPEN || this.paused) return;
    if (!this.heard) {
      this.lost(socket, true);
      return;
    }
    this.heard = false;
    socket.ping();
  }

  /** The revision the watch would resume from (every change before it was received). */
  get resumeRevision(): number | undefined {
    return this.nextRevision;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    try {
      for (;;) {
        const event = this.queue.shift();
        if (event !== undefined) {
          if (this.paused && this.queue.length < highWaterEvents / 2) {
            this.paused = false;
            this.socket?.resume();
          }
          yield event;
          continue;
        }
        if (this.error !== null) throw this.error;
        if (this.done) return;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
      }
    } finally {
      this.close();
    }
  }

  /** Stop: the watch is cancelled on the server and the connection closed. */
  close(): void {
    if (this.done) return;
    this.done = true;
    this.onClose();
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    clearInterval(this.keepAliveTimer);
    const socket = this.socket;
    this.socket = null;
    if (socket !== null && socket.readyState === WebSocket.OPEN && this.watchId !== null)
      socket.send(JSON.stringify({ id: cancelId, op: "cancel-watch", watch: this.watchId }), () =>
        socket.close(),
      );
    else socket?.terminate();
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  private fail(error: StageraftError): void {
    this.error = error;
    this.close();
  }

  private open(): void {
    if (this.done) return;
    const endpoint = this.endpoints[this.endpoint]!;
    const url =
      endpoint.startsWith("ws://") || endpoint.startsWith("wss://")
        ? endpoint
        : `ws://${endpoint}/v1`;
    const socket = new WebSocket(url, {
      headers: this.options.token ? { authorization: `Bearer ${this.options.token}` } : undefined,
      handshakeTimeout: this.options.connectTimeoutMs ?? 3_000,
    });
    this.socket = socket;
    this.watchId = null;
    this.paused = false;
    this.heard = true;
    this.partial = []; // The watch is created again from the revision they belong to.
    const { key, prefix, start, end, prevKv, noPut, noDelete } = this.watch;
    const request = { id: createId, op: "watch", key, prefix, start, end, prevKv, noPut, noDelete };
    socket.on("open", () =>
      socket.send(JSON.stringify({ ...request, startRevision: this.nextRevision })),
    );
    socket.on("message", (data) => {
      if (socket === this.socket) this.heard = true;
      this.onFrame(socket, String(data));
    });
    socket.on("pong", () => {
      if (socket === this.socket) this.heard = true;
    });
    socket.on("close", () => this.lost(socket, true));
    socket.on("error", () => {}); // "close" follows.
    socket.on("unexpected-response", (_request, response) => {
      if (response.statusCode === 401)
        this.fail(new StageraftError("UNAUTHORIZED", `${endpoint} refused the token`));
      else this.lost(socket, true);
    });
  }

  /** Connect again (to the next endpoint after a loss), with backoff while it keeps failing. */
  private lost(socket: WebSocket, moveOn: boolean): void {
    if (socket !== this.socket || this.done) return;
    this.socket = null;
    socket.terminate();
    if (moveOn) this.endpoint = (this.endpoint + 1) % this.endpoints.length;
    const backoff = this.options.retryBackoffMs ?? 50;
    const delay = this.failures === 0 ? 0 : Math.min(2_000, backoff * 2 ** this.failures);
    this.failures++;
    this.resumes++;
    this.reconnectTimer = setTimeout(() => this.open(), delay);
  }

  private onFrame(socket: WebSocket, text: string): void {
    if (socket !== this.socket) return;
    let frame: Frame;
    try {
      frame = JSON.parse(text) as Frame;
    } catch {
      return;
    }
    if (frame.id === createId) this.created(socket, frame);
    else if (frame.id === undefined && frame.watch === this.watchId && this.watchId !== null) {
      if (frame.canceled) this.canceled(socket, frame);
      else this.received(socket, frame);
    }
  }

  private created(socket: WebSocket, frame: Frame): void {
    if (frame.ok) {
      this.watchId = frame.watch ?? null;
      this.failures = 0;
      this.nextRevision ??= (frame.revision ?? 0) + 1;
      return;
    }
    const error = frame.error ?? { code: "BAD_REQUEST", message: "malformed reply" };
    const final =
      error.code === "COMPACTED" || error.code === "BAD_REQUEST" || error.code === "TOO_LARGE";
    if (final || error.code === "UNAUTHORIZED")
      this.fail(new StageraftError(error.code, error.message));
    else this.lost(socket, error.code !== "OVERLOADED"); // Try again: elsewhere, or later.
  }

  private canceled(socket: WebSocket, frame: Frame): void {
    const reason = frame.reason ?? "the server cancelled the watch";
    if (frame.compactRevision !== undefined || reason.startsWith("COMPACTED"))
      this.fail(new StageraftError("COMPACTED", reason));
    else if (reason.startsWith("TOO_LARGE"))
      this.fail(new StageraftError("TOO_LARGE", reason)); // The same event stops any resume.
    else this.lost(socket, false); // Read too slowly: the same node, from where it stopped.
  }

  private received(socket: WebSocket, frame: Frame): void {
    const next = this.nextRevision ?? 0;
    for (const event of frame.events ?? [])
      if (event.kv.modRevision >= next) this.partial.push(event);
    // A fragment promises only the revision before its own, so a resume repeats it whole.
    if (typeof frame.revision === "number") this.nextRevision = Math.max(next, frame.revision + 1);
    if (frame.fragment === true) return;
    for (const event of this.partial) this.queue.push(event);
    this.partial = [];
    if (this.queue.length >= highWaterEvents && !this.paused) {
      // Stop reading: the server holds, then cancels; the watch resumes once drained.
      this.paused = true;
      socket.pause();
    }
    this.notify();
  }
}
