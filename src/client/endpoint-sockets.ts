import WebSocket from "ws";
import type { ErrorBody } from "../../stages/protocol.js";
import { StageraftError } from "./errors.js";

interface Pending {
  readonly socket: WebSocket;
  readonly resolve: (value: Record<string, unknown>) => void;
  readonly reject: (error: StageraftError) => void;
  readonly timer: NodeJS.Timeout;
  /** Sent on the wire: a lost connection leaves its outcome unknown. */
  sent: boolean;
}

function toUrl(endpoint: string): string {
  if (endpoint.startsWith("ws://") || endpoint.startsWith("wss://")) return endpoint;
  return `ws://${endpoint}/v1`;
}

/** The connection settings the sockets need (ClientOptions, resolved). */
export interface SocketOptions {
  readonly token?: string;
  readonly requestTimeoutMs: number;
  readonly connectTimeoutMs: number;
}

/**
 * The client's sockets: one WebSocket per endpoint used, requests pipelined on the current
 * one and matched by id. Retrying is the client's (StageraftClient.request); this sends one
 * frame once and moves between endpoints.
 */
export class EndpointSockets {
  private readonly sockets = new Map<number, WebSocket>();
  private readonly connecting = new Map<number, Promise<WebSocket>>();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private endpointIndex = 0;

  constructor(
    readonly endpoints: readonly string[],
    private readonly options: SocketOptions,
  ) {}

  /** The endpoint new requests go to. */
  get current(): string {
    return this.endpoints[this.endpointIndex]!;
  }

  async once(
    frame: Record<string, unknown>,
    timeoutMs = this.options.requestTimeoutMs,
  ): Promise<Record<string, unknown>> {
    const socket = await this.connect();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new StageraftError("TIMEOUT", `no answer within ${timeoutMs} ms; the outcome is unknown`),
        );
      }, timeoutMs);
      const pending: Pending = { socket, resolve, reject, timer, sent: false };
      this.pending.set(id, pending);
      socket.send(JSON.stringify({ ...frame, id }), (error) => {
        if (error) this.fail(id, new StageraftError("CONNECTION", error.message));
      });
      pending.sent = true;
    });
  }

  /**
   * Move to the leader when its address is known, else to the next endpoint. The old
   * connection stays open until its requests are answered: switching loses nothing.
   */
  rotate(leader: string | null): void {
    const known =
      leader === null ? -1 : this.endpoints.findIndex((endpoint) => endpoint.includes(leader));
    this.endpointIndex = known >= 0 ? known : (this.endpointIndex + 1) % this.endpoints.length;
    this.closeIdleSockets();
  }

  private closeIdleSockets(): void {
    for (const [index, socket] of this.sockets) {
      if (index === this.endpointIndex) continue;
      if ([...this.pending.values()].some((pending) => pending.socket === socket)) continue;
      this.sockets.delete(index);
      socket.close();
    }
  }

  private connect(): Promise<WebSocket> {
    const index = this.endpointIndex;
    const open = this.sockets.get(index);
    if (open !== undefined && open.readyState === WebSocket.OPEN) return Promise.resolve(open);
    const inProgress = this.connecting.get(index);
    if (inProgress !== undefined) return inProgress;
    const endpoint = this.endpoints[index]!;
    const headers = this.options.token
      ? { authorization: `Bearer ${this.options.token}` }
      : undefined;
    const socket = new WebSocket(toUrl(endpoint), {
      headers,
      handshakeTimeout: this.options.connectTimeoutMs,
    });
    const connecting = new Promise<WebSocket>((resolve, reject) => {
      socket.once("open", () => {
        this.connecting.delete(index);
        this.sockets.set(index, socket);
        resolve(socket);
      });
      socket.once("unexpected-response", (_request, response) => {
        this.connecting.delete(index);
        const code = response.statusCode === 401 ? "UNAUTHORIZED" : "CONNECTION";
        reject(
          new StageraftError(
            code,
            `${endpoint} refused the connection (HTTP ${response.statusCode})`,
          ),
        );
        socket.terminate();
      });
      socket.once("error", (error) => {
        this.connecting.delete(index);
        reject(new StageraftError("CONNECTION", `${endpoint}: ${error.message}`));
      });
    });
    this.connecting.set(index, connecting);
    socket.on("message", (data) => this.onMessage(String(data)));
    socket.on("close", (code, reason) => this.onClose(index, socket, code, String(reason)));
    return connecting;
  }

  private onMessage(text: string): void {
    let reply: { id: number | null; ok: boolean; error?: ErrorBody } & Record<string, unknown>;
    try {
      reply = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof reply.id !== "number") return;
    const pending = this.pending.get(reply.id);
    if (pending === undefined) return;
    this.pending.delete(reply.id);
    clearTimeout(pending.timer);
    if (reply.ok) {
      const { id: _id, ok: _ok, ...result } = reply;
      pending.resolve(result);
    } else {
      const error = reply.error ?? {
        code: "BAD_REQUEST" as const,
        message: "malformed error reply",
      };
      pending.reject(new StageraftError(error.code, error.message, error.leader ?? null));
    }
    if (this.sockets.size > 1) this.closeIdleSockets();
  }

  private onClose(index: number, socket: WebSocket, code: number, reason: string): void {
    if (this.sockets.get(index) === socket) this.sockets.delete(index);
    // Requests on the wire may or may not have been applied: their outcome is unknown.
    const why = `the connection closed (${code}${reason ? ` ${reason}` : ""}) before the answer came; the outcome is unknown`;
    for (const [id, pending] of [...this.pending]) {
      if (pending.socket === socket) this.fail(id, new StageraftError("TIMEOUT", why));
    }
  }

  private fail(id: number, error: StageraftError): void {
    const pending = this.pending.get(id);
    if (pending === undefined) return;
    this.pending.delete(id);
    clearTimeout(pending.timer);
    pending.reject(error);
  }
  /** Close every socket; requests still waiting fail with `error`. */
  close(error: StageraftError): void {
    for (const socket of this.sockets.values()) socket.close();
    this.sockets.clear();
    for (const id of [...this.pending.keys()]) this.fail(id, error);
  }
}
