import uWS from "uWebSockets.js";
import type { Logger } from "pino";
import type { NodeId } from "../../raft/types.js";
import type { ClientItem, ReplyTarget, WatchItem } from "../items.js";
import { ErrorCode, encodeError, type ProtocolLimits, type RequestId } from "../protocol.js";
import { decodeRequest } from "../protocol-decode.js";
import { PeerGateway, type PeerGatewayPorts } from "../replicate/peer-gateway.js";
import {
  type ClientConnection,
  type ConnectionTable,
  owedReplyBytes,
} from "../respond/connections.js";
import { clientAccess, requestToken } from "./tokens.js";

export interface IngressOptions {
  readonly clientHost: string;
  readonly clientPort: number;
  readonly peerHost: string;
  readonly peerPort: number;
  readonly limits: ProtocolLimits;
  /** Requests in flight per connection before OVERLOADED. */
  readonly maxInflightPerConnection: number;
  /** Reply bytes owed to a connection (queued or unread) before its requests get OVERLOADED. */
  readonly maxReplyBytesPerConnection: number;
  readonly requestTimeoutMs: number;
  readonly maxPeerFrameBytes: number;
  readonly clientToken: string | null;
  readonly adminToken: string | null;
  readonly peerToken: string | null;
  /** This node's name (a peer's hello may not claim it). */
  readonly nodeName: NodeId;
}

/**
 * The HTTP routes the client port serves beside /v1 (/health, /metrics, /dashboard), handed in
 * by src/ (src/http/routes.ts): ingress only registers them and stops them.
 */
export interface IngressHttp {
  /** Add the routes to `app`; refusals for a missing or wrong token count into `counters`. */
  register(app: uWS.TemplatedApp, counters: { unauthorized: number }): void;
  stop(): void;
}

/** The peer gateway's ports (it runs beside the client door), plus the HTTP routes. */
export interface IngressPorts extends PeerGatewayPorts {
  readonly http: IngressHttp;
  /** Watch requests and closed connections go straight to apply's watch hub (not via Raft). */
  readonly watches?: { offer(item: WatchItem): boolean };
}

interface SocketData {
  connId: number;
  admin: boolean;
}

/** uWS.js takes (host, port, options, cb) too; its typings list options only without a host. */
type ListenWithOptions = (
  host: string,
  port: number,
  options: number,
  cb: (socket: uWS.us_listen_socket | false) => void,
) => uWS.TemplatedApp;

/** uWS.ListenOptions.LIBUS_LISTEN_EXCLUSIVE_PORT (a const enum in the typings: not at run time). */
const exclusivePort = 1;

/** The largest legal frame: a max-size value and key (JSON may double them) plus the envelope. */
function frameLimitBytes(limits: ProtocolLimits): number {
  return limits.maxValueBytes * 2 + limits.maxKeyBytes * 2 + 64 * 1024;
}

/** The most uWS buffers of one incoming message before it gives up on the connection. */
function transportLimitBytes(limits: ProtocolLimits): number {
  return Math.max(64 << 20, 2 * frameLimitBytes(limits));
}

/**
 * Stage 1: the node's front door. Clients: WebSocket /v1 on uWebSockets.js, each frame decoded
 * and validated here (bad frames get BAD_REQUEST and the connection lives on), then admitted
 * only while the pipeline has room (else OVERLOADED at once). The same port serves the HTTP
 * routes handed in as `ports.http` (src/http/routes.ts: /health, /metrics, /dashboard). Peers:
 * a TCP port carrying length-prefixed frames (stages/replicate/peer-gateway.ts), token-checked
 * at hello.
 */
export class IngressStage {
  private listenSocket: uWS.us_listen_socket | null = null;
  private peerGateway: PeerGateway | null = null;
  stats = {
    frames: 0,
    badFrames: 0,
    overloaded: 0,
    peerDropped: 0,
    peerFrames: 0,
    peerRejected: 0,
    unauthorized: 0,
  };

  constructor(
    readonly connections: ConnectionTable,
    private readonly options: IngressOptions,
    private readonly ports: IngressPorts,
    private readonly log: Logger,
  ) {}

  async start(): Promise<{ clientPort: number; peerPort: number }> {
    const peerPort = await this.startPeer();
    const clientPort = await this.startClient();
    return { clientPort, peerPort };
  }

  private startClient(): Promise<number> {
    const { limits } = this.options;
    const app = uWS.App();
    app.ws<SocketData>("/v1", {
      // uWS drops a connection without a close frame past this (the client sees 1006: uWS
      // cannot send a close code there); frames between the protocol's limit and this get a
      // proper 1009 from message(). Hence a ceiling far above any frame a client means to send,
      // paid only while such a frame is being received.
      maxPayloadLength: transportLimitBytes(limits),
      maxBackpressure: 16 * 1024 * 1024,
      closeOnBackpressureLimit: 1,
      idleTimeout: 120,
      sendPingsAutomatically: true,
      upgrade: (res, req, context) => this.upgrade(res, req, context),
      open: (ws) => this.open(ws),
      message: (ws, message, isBinary) => this.message(ws, message, isBinary),
      close: (ws, code, message) => {
        const { connId } = ws.getUserData();
        this.log.debug(
          { connId, code, reason: Buffer.from(message).toString() },
          "client connection closed",
        );
        this.connections.remove(connId);
        // If apply's queue is full, the hub frees the watches at its next tick (room "gone").
        this.ports.watches?.offer({ kind: "watch-closed", connId });
      },
    });
    this.ports.http.register(app, this.stats);
    app.any("/*", (res, req) => {
      res.writeStatus("404 Not Found");
      // A HEAD answer carries no body: one would break the parser of a reused connection.
      if (req.getMethod() === "head") res.endWithoutBody();
      else
        res.end(
          "not found: try /v1 (WebSocket), /livez, /readyz, /health, /metrics or /dashboard\n",
        );
    });
    return this.listen(app);
  }

  private listen(app: uWS.TemplatedApp): Promise<number> {
    const { clientHost, clientPort } = this.options;
    return new Promise((resolve, reject) => {
      // uWS listens with SO_REUSEPORT by default: a second node on the same port would start
      // and share the clients with the first. Exclusive makes the second one fail instead.
      const listen = app.listen as unknown as ListenWithOptions;
      listen.call(app, clientHost, clientPort, exclusivePort, (socket) => {
        if (socket === false) {
          reject(
            new Error(
              `cannot listen for clients on ${clientHost}:${clientPort}: port in use (or the address is not local)`,
            ),
          );
          return;
        }
        this.listenSocket = socket;
        resolve(uWS.us_socket_local_port(socket));
      });
    });
  }

  private upgrade(
    res: uWS.HttpResponse,
    req: uWS.HttpRequest,
    context: uWS.us_socket_context_t,
  ): void {
    const auth = clientAccess(requestToken(req, true), this.options);
    if (auth === null) {
      this.stats.unauthorized++;
      res
        .writeStatus("401 Unauthorized")
        .end("a valid token is required (Authorization: Bearer <token> or ?token=)\n");
      return;
    }
    const data: SocketData = { connId: this.connections.allocateId(), admin: auth.admin };
    res.upgrade(
      data,
      req.getHeader("sec-websocket-key"),
      req.getHeader("sec-websocket-protocol"),
      req.getHeader("sec-websocket-extensions"),
      context,
    );
  }

  private open(ws: uWS.WebSocket<SocketData>): void {
    const { connId, admin } = ws.getUserData();
    const connection: ClientConnection = {
      connId,
      admin,
      inflight: 0,
      queuedReplyBytes: 0,
      // uWS throws on any access to a closed socket.
      bufferedBytes: () => (connection.closed ? 0 : ws.getBufferedAmount()),
      closed: false,
      send: (text) => {
        ws.send(text, false);
      },
      cork: (fn) => {
        ws.cork(fn);
      },
      end: () => {
        ws.end(1001, "the node is shutting down");
      },
    };
    this.connections.add(connection);
  }

  private message(ws: uWS.WebSocket<SocketData>, message: ArrayBuffer, isBinary: boolean): void {
    const connection = this.connections.get(ws.getUserData().connId);
    if (connection === undefined) return;
    this.stats.frames++;
    if (message.byteLength > frameLimitBytes(this.options.limits)) {
      this.stats.badFrames++;
      ws.end(1009, "frame too large");
      return;
    }
    if (isBinary) {
      this.stats.badFrames++;
      ws.send(
        encodeError(null, {
          code: ErrorCode.badRequest,
          message: "binary frames are not part of the protocol; send JSON text",
        }),
      );
      return;
    }
    const decoded = decodeRequest(Buffer.from(message).toString("utf8"), this.options.limits);
    if (!decoded.ok) {
      this.stats.badFrames++;
      ws.send(encodeError(decoded.id, decoded.error));
      return;
    }
    const target: ReplyTarget = {
      kind: "local",
      connId: connection.connId,
      id: decoded.id,
      op: decoded.request.op,
      receivedMs: performance.now(),
    };
    if (this.connectionFull(ws, connection, decoded.id)) return;
    const { request } = decoded;
    if ((request.op === "watch" || request.op === "cancel-watch") && this.ports.watches) {
      const watchItem: WatchItem = {
        kind: "watch",
        connId: connection.connId,
        id: decoded.id,
        request,
      };
      if (!this.ports.watches.offer(watchItem)) {
        this.overloaded(ws, decoded.id, "the node is overloaded; retry later");
        return;
      }
      this.connections.admitted(connection);
      return;
    }
    const item: ClientItem = {
      kind: "client",
      target,
      admin: connection.admin,
      request: decoded.request,
      deadline: Date.now() + this.options.requestTimeoutMs,
    };
    if (!this.ports.admission.admit() || !this.ports.raftStep.offer(item)) {
      this.overloaded(ws, decoded.id, "the node is overloaded; retry later");
      return;
    }
    this.connections.admitted(connection);
  }

  /** The connection has its fill of requests in flight or of replies unread: OVERLOADED. */
  private connectionFull(
    ws: uWS.WebSocket<SocketData>,
    connection: ClientConnection,
    id: RequestId,
  ): boolean {
    if (connection.inflight >= this.options.maxInflightPerConnection) {
      this.overloaded(
        ws,
        id,
        `more than ${this.options.maxInflightPerConnection} requests in flight on this connection`,
      );
      return true;
    }
    // A client that does not read its replies gets no more work done for it (uWS cannot pause
    // reading a WebSocket): answered OVERLOADED, not executed, until it drains.
    if (owedReplyBytes(connection) > this.options.maxReplyBytesPerConnection) {
      this.overloaded(
        ws,
        id,
        `more than ${this.options.maxReplyBytesPerConnection} bytes of replies wait for this connection to read them`,
      );
      return true;
    }
    return false;
  }

  private overloaded(ws: uWS.WebSocket<SocketData>, id: RequestId, message: string): void {
    this.stats.overloaded++;
    ws.send(encodeError(id, { code: ErrorCode.overloaded, message }));
  }

  // ------------------------------------------------------------ peers

  /** The peer port is stages/replicate/peer-gateway.ts; it counts into this stage's stats. */
  private startPeer(): Promise<number> {
    const { options } = this;
    this.peerGateway = new PeerGateway(
      {
        host: options.peerHost,
        port: options.peerPort,
        name: options.nodeName,
        token: options.peerToken,
        maxFrameBytes: options.maxPeerFrameBytes,
        limits: options.limits,
        requestTimeoutMs: options.requestTimeoutMs,
      },
      this.ports,
      this.stats,
      this.log,
    );
    return this.peerGateway.start();
  }

  async stop(): Promise<void> {
    if (this.listenSocket) uWS.us_listen_socket_close(this.listenSocket);
    this.listenSocket = null;
    this.ports.http.stop();
    this.connections.closeAll();
    await this.peerGateway?.stop();
  }
}
