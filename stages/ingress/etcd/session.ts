import type { ClientItem, WatchItem } from "../../items.js";
import type { ProtocolLimits, RequestId } from "../../protocol.js";
import { decodeRequest } from "../../protocol-decode.js";
import type { PeerGatewayPorts } from "../../replicate/peer-gateway.js";
import type { ClientConnection, ConnectionTable } from "../../respond/connections.js";
import { EtcdError, type NativeReply, nativeError } from "./errors.js";

export type Fields = Record<string, unknown>;

/** The pipeline's entrances the door uses (ingress's own ports). */
export interface SessionPorts extends Pick<PeerGatewayPorts, "raftStep" | "admission"> {
  readonly watches?: { offer(item: WatchItem): boolean };
}

export interface SessionOptions {
  readonly limits: ProtocolLimits;
  readonly requestTimeoutMs: number;
}

interface Pending {
  resolve(reply: Fields): void;
  reject(error: unknown): void;
}

/**
 * One RPC (or one stream) as a client connection of the pipeline: native requests go in as
 * the WebSocket door sends them (same decoder, same admission), replies come back through
 * respond to this connection and are matched by id; pushed frames (a watch's events) go to
 * `onPush`. Closing it ends its watches, as a closed WebSocket does.
 */
export class Session {
  private readonly connection: ClientConnection;
  private readonly pending = new Map<RequestId, Pending>();
  private nextId = 1;
  private closed = false;
  /** A watch was asked for: closing tells the watch hub (only then: unary RPCs are many). */
  private watched = false;

  constructor(
    private readonly connections: ConnectionTable,
    private readonly ports: SessionPorts,
    private readonly options: SessionOptions,
    admin: boolean,
    private readonly onPush: (frame: Fields) => void = () => {},
    private readonly onEnd: () => void = () => {},
    private readonly counters: { overloaded: number } = { overloaded: 0 },
  ) {
    this.connection = {
      connId: connections.allocateId(),
      admin,
      inflight: 0,
      queuedReplyBytes: 0,
      bufferedBytes: () => 0,
      closed: false,
      send: (text) => this.received(JSON.parse(text) as Fields),
      cork: (fn) => fn(),
      // The node is stopping: what waits gets etcd's "no leader" retry signal.
      end: () => {
        this.failAll(nativeError({ code: "UNAVAILABLE", message: "the node is stopping" }));
        this.onEnd();
      },
    };
    connections.add(this.connection);
  }

  /** One native request, answered with its reply's fields (an error as etcd's). */
  call(frame: Fields): Promise<Fields> {
    if (this.closed) return Promise.reject(EtcdError.invalid("the stream has ended"));
    const id = this.nextId++;
    const decoded = decodeRequest(JSON.stringify({ ...frame, id }), this.options.limits);
    if (!decoded.ok) return Promise.reject(nativeError(decoded.error));
    const { request } = decoded;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      let offered: boolean;
      if (request.op === "watch" || request.op === "cancel-watch") {
        this.watched = true;
        const item: WatchItem = { kind: "watch", connId: this.connection.connId, id, request };
        offered = this.ports.watches?.offer(item) ?? false;
      } else {
        const item: ClientItem = {
          kind: "client",
          target: {
            kind: "local",
            connId: this.connection.connId,
            id,
            op: request.op,
            receivedMs: performance.now(),
          },
          admin: this.connection.admin,
          request,
          deadline: Date.now() + this.options.requestTimeoutMs,
        };
        offered = this.ports.admission.admit() && this.ports.raftStep.offer(item);
      }
      if (!offered) {
        this.pending.delete(id);
        this.counters.overloaded++;
        reject(EtcdError.tooManyRequests());
        return;
      }
      this.connections.admitted(this.connection);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.connections.remove(this.connection.connId);
    if (this.watched)
      this.ports.watches?.offer({ kind: "watch-closed", connId: this.connection.connId });
    this.failAll(EtcdError.invalid("the stream has ended"));
  }

  private received(frame: Fields): void {
    const id = frame.id as RequestId | undefined;
    if (id === undefined || !("ok" in frame)) {
      this.onPush(frame);
      return;
    }
    const pending = this.pending.get(id);
    if (pending === undefined) return;
    this.pending.delete(id);
    const reply = frame as NativeReply;
    if (reply.ok) pending.resolve(reply);
    else pending.reject(nativeError(reply.error));
  }

  private failAll(error: unknown): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(error);
  }
}
