import uWS from "uWebSockets.js";
import { timingSafeEqual } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import type { Logger } from "pino";
import type { AdmissionController } from "../queues/mod.js";
import { CodecError, decodeMessages } from "../raft/codec.js";
import type { NodeId } from "../raft/types.js";
import type { ClientConnection, ConnectionTable } from "./connections.js";
import type { ClientItem, RaftStepItem, ReplyTarget } from "./items.js";
import { decodeJson, FrameError, FrameKind, FrameReader, type Hello } from "./peer-frames.js";
import {
  decodeRequest,
  ErrorCode,
  encodeError,
  type ProtocolLimits,
  type RequestId,
} from "./protocol.js";
import type { RemovedNotice } from "./removal.js";

export interface IngressOptions {
  readonly clientHost: string;
  readonly clientPort: number;
  readonly peerHost: string;
  readonly peerPort: number;
  readonly limits: ProtocolLimits;
  /** Requests in flight per connection before OVERLOADED. */
  readonly maxInflightPerConnection: number;
  readonly requestTimeoutMs: number;
  readonly maxPeerFrameBytes: number;
  readonly clientToken: string | null;
  readonly adminToken: string | null;
  readonly peerToken: string | null;
}

export interface IngressPorts {
  readonly raftStep: { offer(item: RaftStepItem): boolean };
  readonly admission: AdmissionController;
  /** A follower's forwarded request came back from the leader: hand the text to its client. */
  readonly forwardReplied: (forwardId: number, text: string) => void;
  readonly peerHello: (hello: Hello) => void;
  /** A peer (the leader) says this node is no longer a member. */
  readonly removedNotice: (from: NodeId, notice: RemovedNotice) => void;
  /** Reply straight away (errors decided at the gate); bypasses the pipeline. */
  readonly replyNow: (target: ReplyTarget, text: string) => void;
  readonly health: () => Record<string, unknown>;
  readonly metrics: () => Promise<string>;
  readonly dashboard: () => string;
  /** The JSON-able picture pushed to /dashboard/live subscribers once a second. */
  readonly dashboardSnapshot: () => Promise<unknown>;
  /** A static file of the dashboard (/dashboard/assets/<name>), read at start. */
  readonly dashboardAsset: (name: string) => { contentType: string; body: Buffer } | undefined;
}

interface SocketData {
  connId: number;
  admin: boolean;
}

/** Per-socket data of a /dashboard/live subscriber. */
type DashboardSocket = uWS.WebSocket<Record<string, never>>;

/** A dashboard socket this far behind gets no new pictures until it drains. */
const dashboardBackpressureBytes = 1 << 20;

/** The largest legal frame: a max-size value and key (JSON may double them) plus the envelope. */
function frameLimitBytes(limits: ProtocolLimits): number {
  return limits.maxValueBytes * 2 + limits.maxKeyBytes * 2 + 64 * 1024;
}

function tokenMatches(given: string | null, expected: string): boolean {
  if (given === null) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Stage 1: the node's front door. Clients: WebSocket /v1 on uWebSockets.js, each frame decoded
 * and validated here (bad frames get BAD_REQUEST and the connection lives on), then admitted
 * only while the pipeline has room (else OVERLOADED at once). Also GET /health, /metrics and
 * /dashboard (with its static assets and the WebSocket feed /dashboard/live). Peers: a TCP
 * port carrying length-prefixed frames, token-checked at hello.
 */
export class IngressStage {
  private listenSocket: uWS.us_listen_socket | null = null;
  private peerServer: Server | null = null;
  private readonly peerSockets = new Set<Socket>();
  private readonly dashboardSockets = new Set<DashboardSocket>();
  private dashboardTimer: NodeJS.Timeout | null = null;
  private dashboardPushing = false;
  stats = {
    frames: 0,
    badFrames: 0,
    overloaded: 0,
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
      // uWS drops a connection without a close frame past this; frames between the protocol's
      // limit and this get a proper 1009 close from message().
      maxPayloadLength: 4 * frameLimitBytes(limits),
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
      },
    });
    app.get("/health", (res) => {
      res.writeHeader("content-type", "application/json").end(JSON.stringify(this.ports.health()));
    });
    app.get("/metrics", (res) => {
      let aborted = false;
      res.onAborted(() => {
        aborted = true;
      });
      void this.ports.metrics().then((text) => {
        if (aborted) return;
        res.cork(() => res.writeHeader("content-type", "text/plain; version=0.0.4").end(text));
      });
    });
    app.get("/dashboard", (res) => {
      res.writeHeader("content-type", "text/html; charset=utf-8").end(this.ports.dashboard());
    });
    app.get("/dashboard/assets/:file", (res, req) => {
      const asset = this.ports.dashboardAsset(req.getParameter(0) ?? "");
      if (asset === undefined) {
        res.writeStatus("404 Not Found").end("no such dashboard asset\n");
        return;
      }
      res
        .writeHeader("content-type", asset.contentType)
        .writeHeader("cache-control", "public, max-age=3600")
        .end(asset.body);
    });
    // The dashboard's live feed: the same token rule as /v1; one picture a second per socket.
    app.ws<Record<string, never>>("/dashboard/live", {
      maxPayloadLength: 4 * 1024,
      maxBackpressure: 4 * dashboardBackpressureBytes,
      closeOnBackpressureLimit: 1,
      idleTimeout: 120,
      sendPingsAutomatically: true,
      upgrade: (res, req, context) => {
        if (this.authorize(req) === null) {
          this.stats.unauthorized++;
          res
            .writeStatus("401 Unauthorized")
            .end("a valid token is required (Authorization: Bearer <token> or ?token=)\n");
          return;
        }
        res.upgrade(
          {},
          req.getHeader("sec-websocket-key"),
          req.getHeader("sec-websocket-protocol"),
          req.getHeader("sec-websocket-extensions"),
          context,
        );
      },
      open: (ws) => {
        this.dashboardSockets.add(ws);
        this.pushDashboard();
      },
      message: () => {},
      close: (ws) => {
        this.dashboardSockets.delete(ws);
      },
    });
    this.dashboardTimer = setInterval(() => this.pushDashboard(), 1_000);
    this.dashboardTimer.unref();
    app.any("/*", (res) => {
      res
        .writeStatus("404 Not Found")
        .end("not found: try /v1 (WebSocket), /health, /metrics or /dashboard\n");
    });
    return new Promise((resolve, reject) => {
      app.listen(this.options.clientHost, this.options.clientPort, (socket) => {
        if (socket === false) {
          reject(
            new Error(
              `cannot listen for clients on ${this.options.clientHost}:${this.options.clientPort} (port in use?)`,
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
    const auth = this.authorize(req);
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

  /** The token rule of /v1 (and /dashboard/live): null when refused. */
  private authorize(req: uWS.HttpRequest): { admin: boolean } | null {
    const header = req.getHeader("authorization");
    const bearer = header.startsWith("Bearer ") ? header.slice(7) : null;
    const token = bearer ?? (req.getQuery("token") || null);
    const { clientToken, adminToken } = this.options;
    const admin =
      adminToken === null
        ? clientToken === null || tokenMatches(token, clientToken)
        : tokenMatches(token, adminToken);
    const allowed = admin || clientToken === null || tokenMatches(token, clientToken);
    return allowed ? { admin } : null;
  }

  /** One picture for every dashboard watching; none is built while nobody watches. */
  private pushDashboard(): void {
    if (this.dashboardSockets.size === 0 || this.dashboardPushing) return;
    this.dashboardPushing = true;
    void this.ports
      .dashboardSnapshot()
      .then((snapshot) => {
        const text = JSON.stringify(snapshot);
        // Sockets closed meanwhile have left the set: only open ones are written to.
        for (const ws of this.dashboardSockets) {
          if (ws.getBufferedAmount() < dashboardBackpressureBytes) ws.send(text, false);
        }
      })
      .catch((error: unknown) => this.log.warn({ err: error }, "dashboard snapshot failed"))
      .finally(() => {
        this.dashboardPushing = false;
      });
  }

  private open(ws: uWS.WebSocket<SocketData>): void {
    const { connId, admin } = ws.getUserData();
    const connection: ClientConnection = {
      connId,
      admin,
      inflight: 0,
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
    const target: ReplyTarget = { kind: "local", connId: connection.connId, id: decoded.id };
    if (connection.inflight >= this.options.maxInflightPerConnection) {
      this.overloaded(
        ws,
        decoded.id,
        `more than ${this.options.maxInflightPerConnection} requests in flight on this connection`,
      );
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
    connection.inflight++;
  }

  private overloaded(ws: uWS.WebSocket<SocketData>, id: RequestId, message: string): void {
    this.stats.overloaded++;
    ws.send(encodeError(id, { code: ErrorCode.overloaded, message }));
  }

  // ------------------------------------------------------------ peers

  private startPeer(): Promise<number> {
    const server = createServer((socket) => this.acceptPeer(socket));
    this.peerServer = server;
    return new Promise((resolve, reject) => {
      server.once("error", (error) =>
        reject(
          new Error(
            `cannot listen for peers on ${this.options.peerHost}:${this.options.peerPort}: ${error.message}`,
          ),
        ),
      );
      server.listen(this.options.peerPort, this.options.peerHost, () => {
        const address = server.address();
        resolve(
          typeof address === "object" && address !== null ? address.port : this.options.peerPort,
        );
      });
    });
  }

  private acceptPeer(socket: Socket): void {
    socket.setNoDelay(true);
    this.peerSockets.add(socket);
    const reader = new FrameReader(this.options.maxPeerFrameBytes);
    let peer: NodeId | null = null;
    socket.on("data", (chunk: Buffer) => {
      let frames: { kind: number; payload: Buffer }[];
      try {
        frames = reader.push(chunk);
      } catch (error) {
        this.log.warn({ err: error, peer }, "bad peer stream; closing the connection");
        socket.destroy();
        return;
      }
      for (const frame of frames) {
        if (peer === null) {
          peer = this.peerHandshake(socket, frame);
          if (peer === null) return;
          continue;
        }
        this.peerFrame(peer, frame);
      }
    });
    socket.on("error", () => {});
    socket.on("close", () => this.peerSockets.delete(socket));
  }

  private peerHandshake(socket: Socket, frame: { kind: number; payload: Buffer }): NodeId | null {
    let hello: Hello | null = null;
    try {
      if (frame.kind === FrameKind.hello) hello = decodeJson<Hello>(frame.payload);
    } catch {
      hello = null;
    }
    const expected = this.options.peerToken;
    if (
      hello === null ||
      typeof hello.name !== "string" ||
      (expected !== null && !tokenMatches(hello.token, expected))
    ) {
      this.stats.peerRejected++;
      this.log.warn(
        { remote: socket.remoteAddress },
        "peer connection refused: no hello or a wrong peer token",
      );
      socket.destroy();
      return null;
    }
    this.ports.peerHello(hello);
    return hello.name;
  }

  private peerFrame(peer: NodeId, frame: { kind: number; payload: Buffer }): void {
    this.stats.peerFrames++;
    try {
      switch (frame.kind) {
        case FrameKind.raft: {
          const messages = decodeMessages(frame.payload).filter((message) => message.from === peer);
          // A full raft-step queue drops peer messages: Raft retransmits, memory stays bounded.
          if (messages.length > 0 && !this.ports.raftStep.offer({ kind: "peer", messages }))
            this.stats.overloaded++;
          return;
        }
        case FrameKind.forward: {
          const { forwardId, id, request, admin } = decodeJson<{
            forwardId: number;
            id: RequestId;
            request: object;
            admin?: boolean;
          }>(frame.payload);
          const target: ReplyTarget = { kind: "remote", node: peer, forwardId, id };
          // The follower validated it; validate again here all the same (the gateway rule).
          const decoded = decodeRequest(JSON.stringify({ ...request, id }), this.options.limits);
          if (!decoded.ok) {
            this.ports.replyNow(target, encodeError(id, decoded.error));
            return;
          }
          const item: ClientItem = {
            kind: "client",
            target,
            admin: admin === true,
            request: decoded.request,
            deadline: Date.now() + this.options.requestTimeoutMs,
          };
          if (!this.ports.admission.admit() || !this.ports.raftStep.offer(item)) {
            this.ports.replyNow(
              target,
              encodeError(id, {
                code: ErrorCode.overloaded,
                message: "the leader is overloaded; retry later",
              }),
            );
          }
          return;
        }
        case FrameKind.removed:
          this.ports.removedNotice(peer, decodeJson<RemovedNotice>(frame.payload));
          return;
        case FrameKind.forwardReply: {
          const { forwardId, text } = decodeJson<{ forwardId: number; text: string }>(
            frame.payload,
          );
          this.ports.forwardReplied(forwardId, text);
          return;
        }
        default:
          throw new FrameError(`unknown peer frame kind ${frame.kind}`);
      }
    } catch (error) {
      if (
        error instanceof CodecError ||
        error instanceof FrameError ||
        error instanceof SyntaxError
      ) {
        this.log.warn({ err: error, peer }, "dropped an invalid peer frame");
        return;
      }
      throw error;
    }
  }

  async stop(): Promise<void> {
    if (this.listenSocket) uWS.us_listen_socket_close(this.listenSocket);
    this.listenSocket = null;
    if (this.dashboardTimer) clearInterval(this.dashboardTimer);
    this.dashboardTimer = null;
    for (const ws of [...this.dashboardSockets]) ws.end(1001, "the node is shutting down");
    this.dashboardSockets.clear();
    this.connections.closeAll();
    for (const socket of this.peerSockets) socket.destroy();
    await new Promise<void>((resolve) =>
      this.peerServer ? this.peerServer.close(() => resolve()) : resolve(),
    );
  }
}
