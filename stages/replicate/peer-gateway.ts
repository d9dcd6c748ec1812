import { createServer, type Server, type Socket } from "node:net";
import type { Logger } from "pino";
import type { AdmissionController } from "../../queues/mod.js";
import { decodeMessages } from "../../raft/codec.js";
import type { NodeId } from "../../raft/types.js";
import { tokenMatches } from "../ingress/tokens.js";
import type { ClientItem, RaftStepItem, ReplyTarget } from "../items.js";
import { ErrorCode, encodeError, type ProtocolLimits } from "../protocol.js";
import { decodeRequest } from "../protocol-decode.js";
import type { RemovedNotice } from "../raft-step/removal.js";
import {
  type Decoded,
  decodeForward,
  decodeForwardReply,
  decodeHello,
  decodeRemovedNotice,
  FrameKind,
  FrameReader,
  type Hello,
  type PeerFrame,
} from "./peer-frames.js";

/** Before its hello is checked a connection may send one frame this large, ... */
export const helloFrameBytesMax = 4 * 1024;
/** ... within this long of connecting. Peers send their hello first thing. */
export const helloDeadlineMs = 5_000;
/** Connections that have not said hello yet, at most; past it a new one is closed at once. */
export const pendingHellosMax = 64;
/** A frame partly received must make progress: no new byte for this long closes the link. */
export const frameIdleMs = 15_000;
/** Refusals are logged at most this often (a stranger can reconnect in a loop). */
const refusalLogIntervalMs = 1_000;

export interface PeerGatewayOptions {
  readonly host: string;
  readonly port: number;
  /** This node's name: a hello claiming it is refused. */
  readonly name: NodeId;
  /** Required in every hello; null: any peer is let in. */
  readonly token: string | null;
  /** The largest frame an authenticated peer may send. */
  readonly maxFrameBytes: number;
  readonly limits: ProtocolLimits;
  readonly requestTimeoutMs: number;
  /** Tests shorten or lengthen these; the defaults are the constants above. */
  readonly helloDeadlineMs?: number;
  readonly frameIdleMs?: number;
  readonly pendingHellosMax?: number;
}

export interface PeerGatewayPorts {
  readonly raftStep: { offer(item: RaftStepItem): boolean };
  readonly admission: AdmissionController;
  /** `from`: the authenticated peer that sent the reply (only the leader asked may answer). */
  readonly forwardReplied: (from: NodeId, forwardId: number, text: string) => void;
  readonly peerHello: (hello: Hello) => void;
  /** A peer (the leader) says this node is no longer a member. */
  readonly removedNotice: (from: NodeId, notice: RemovedNotice) => void;
  /** Reply straight away (errors decided at the gate); bypasses the pipeline. */
  readonly replyNow: (target: ReplyTarget, text: string) => void;
}

/** The counters the gateway adds to (ingress's stats). */
export interface PeerCounters {
  peerFrames: number;
  peerRejected: number;
  overloaded: number;
  /** Raft messages dropped at a full raft-step queue (not client requests: not overloaded). */
  peerDropped: number;
}

/** One connection on the peer port; `peer` is null until its hello is checked. */
interface Link {
  readonly socket: Socket;
  readonly reader: FrameReader;
  peer: NodeId | null;
}

/**
 * The peer port: TCP, length-prefixed frames (peer-frames.ts). Nothing from a peer is
 * trusted until checked here: a connection must send a small hello (bounded size, a
 * deadline, the token when one is set) before anything else, and every later frame is
 * validated before it reaches raft-step. A bad frame closes that connection only and counts
 * in peerRejected; the peer, if it is one, reconnects and says hello again.
 */
export class PeerGateway {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  /** Open connections that have not said hello yet (bounded by pendingHellosMax). */
  private pendingHellos = 0;
  private lastRefusalLogMs = 0;
  private refusalsNotLogged = 0;

  constructor(
    private readonly options: PeerGatewayOptions,
    private readonly ports: PeerGatewayPorts,
    private readonly stats: PeerCounters,
    private readonly log: Logger,
  ) {}

  start(): Promise<number> {
    const { host, port } = this.options;
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once("error", (error) =>
        reject(new Error(`cannot listen for peers on ${host}:${port}: ${error.message}`)),
      );
      server.listen(port, host, () => {
        const address = server.address();
        resolve(typeof address === "object" && address !== null ? address.port : port);
      });
    });
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    const server = this.server;
    this.server = null;
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }

  private accept(socket: Socket): void {
    const { options } = this;
    socket.setNoDelay(true);
    socket.on("error", () => {});
    // Strangers are cheap to open: only so many may wait to say hello at once.
    if (this.pendingHellos >= (options.pendingHellosMax ?? pendingHellosMax)) {
      this.refuse(socket, null, `more than ${this.pendingHellos} connections await their hello`);
      return;
    }
    this.sockets.add(socket);
    this.pendingHellos++;
    const link: Link = { socket, reader: new FrameReader(helloFrameBytesMax), peer: null };
    const helloMs = options.helloDeadlineMs ?? helloDeadlineMs;
    const deadline = setTimeout(
      () => this.refuse(socket, null, `no hello within ${helloMs} ms`),
      helloMs,
    );
    deadline.unref();
    const idleMs = options.frameIdleMs ?? frameIdleMs;
    let idle: NodeJS.Timeout | null = null;
    socket.on("data", (chunk: Buffer) => {
      this.received(link, chunk);
      if (link.peer !== null) clearTimeout(deadline);
      // A frame begun must keep coming; between frames a peer may be quiet as long as it likes.
      if (socket.destroyed || link.peer === null || link.reader.bufferedBytes === 0) {
        if (idle !== null) clearTimeout(idle);
        idle = null;
      } else if (idle === null) {
        idle = setTimeout(
          () => this.refuse(socket, link.peer, `a frame stalled for ${idleMs} ms`),
          idleMs,
        );
        idle.unref();
      } else {
        idle.refresh();
      }
    });
    socket.on("close", () => {
      clearTimeout(deadline);
      if (idle !== null) clearTimeout(idle);
      if (link.peer === null) this.pendingHellos--;
      this.sockets.delete(socket);
    });
  }

  /** Pull every whole frame out of what has arrived; the first must be a good hello. */
  private received(link: Link, chunk: Buffer): void {
    const { socket, reader } = link;
    reader.push(chunk);
    while (!socket.destroyed) {
      let frame: PeerFrame | null;
      try {
        frame = reader.next();
      } catch (error) {
        this.refuse(socket, link.peer, (error as Error).message);
        return;
      }
      if (frame === null) return;
      if (link.peer === null) {
        const hello = this.checkHello(frame);
        if (!hello.ok) {
          this.refuse(socket, null, hello.reason);
          return;
        }
        link.peer = hello.value.name;
        this.pendingHellos--;
        reader.setLimit(this.options.maxFrameBytes);
        this.ports.peerHello(hello.value);
        continue;
      }
      const refused = this.frame(link.peer, frame);
      if (refused !== null) this.refuse(socket, link.peer, refused);
    }
  }

  private checkHello(frame: PeerFrame): Decoded<Hello> {
    if (frame.kind !== FrameKind.hello)
      return { ok: false, reason: `a frame of kind ${frame.kind} before the hello` };
    const hello = decodeHello(frame.payload);
    if (!hello.ok) return hello;
    const expected = this.options.token;
    if (expected !== null && !tokenMatches(hello.value.token, expected)) {
      const reason = hello.value.token === null ? "no peer token" : "a wrong peer token";
      return { ok: false, reason };
    }
    if (hello.value.name === this.options.name)
      return { ok: false, reason: "the hello claims this node's own name" };
    return hello;
  }

  /** Hand one frame of an authenticated peer on; the reason when it is refused. */
  private frame(peer: NodeId, frame: PeerFrame): string | null {
    this.stats.peerFrames++;
    switch (frame.kind) {
      case FrameKind.raft:
        return this.raftFrame(peer, frame.payload);
      case FrameKind.forward:
        return this.forwardFrame(peer, frame.payload);
      case FrameKind.forwardReply: {
        const reply = decodeForwardReply(frame.payload);
        if (!reply.ok) return reply.reason;
        this.ports.forwardReplied(peer, reply.value.forwardId, reply.value.text);
        return null;
      }
      case FrameKind.removed: {
        const notice = decodeRemovedNotice(frame.payload);
        if (!notice.ok) return notice.reason;
        this.ports.removedNotice(peer, notice.value);
        return null;
      }
      case FrameKind.hello:
        return "a second hello";
      default:
        return `unknown peer frame kind ${frame.kind}`;
    }
  }

  private raftFrame(peer: NodeId, payload: Buffer): string | null {
    let messages: ReturnType<typeof decodeMessages>;
    try {
      messages = decodeMessages(payload);
    } catch (error) {
      // Whatever a hostile payload makes the decoder throw, it is that frame's fault.
      return `an invalid raft frame: ${(error as Error).message}`;
    }
    // A peer speaks only for itself.
    const own = messages.filter((message) => message.from === peer);
    // A full raft-step queue drops peer messages: Raft retransmits, memory stays bounded.
    if (own.length > 0 && !this.ports.raftStep.offer({ kind: "peer", messages: own }))
      this.stats.peerDropped += own.length;
    return null;
  }

  private forwardFrame(peer: NodeId, payload: Buffer): string | null {
    const forward = decodeForward(payload);
    if (!forward.ok) return forward.reason;
    const { forwardId, id, request, admin } = forward.value;
    const target: ReplyTarget = { kind: "remote", node: peer, forwardId, id };
    // The follower validated the request; validate it again as any client frame.
    const decoded = decodeRequest(JSON.stringify({ ...request, id }), this.options.limits);
    if (!decoded.ok) {
      this.ports.replyNow(target, encodeError(id, decoded.error));
      return null;
    }
    const item: ClientItem = {
      kind: "client",
      target,
      admin,
      request: decoded.request,
      deadline: Date.now() + this.options.requestTimeoutMs,
    };
    if (!this.ports.admission.admit() || !this.ports.raftStep.offer(item)) {
      this.stats.overloaded++;
      this.ports.replyNow(
        target,
        encodeError(id, {
          code: ErrorCode.overloaded,
          message: "the leader is overloaded; retry later",
        }),
      );
    }
    return null;
  }

  private refuse(socket: Socket, peer: NodeId | null, reason: string): void {
    if (socket.destroyed) return;
    const remote = socket.remoteAddress;
    socket.destroy();
    this.stats.peerRejected++;
    const now = Date.now();
    if (now - this.lastRefusalLogMs < refusalLogIntervalMs) {
      this.refusalsNotLogged++;
      return;
    }
    this.log.warn(
      {
        remote,
        peer,
        reason,
        refusalsNotLogged: this.refusalsNotLogged,
      },
      `peer connection refused: ${reason}`,
    );
    this.lastRefusalLogMs = now;
    this.refusalsNotLogged = 0;
  }
}
