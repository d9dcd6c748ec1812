import { connect, type Socket } from "node:net";
import type { Logger } from "pino";
import { Stage, type StageSnapshot } from "../../queues/mod.js";
import { encodeMessages } from "../../raft/codec.js";
import type { Message, NodeId } from "../../raft/types.js";
import type { SnapshotStore } from "../../storage/snapshot-store.js";
import type { ClientRequest, RequestId } from "../protocol.js";
import type { RemovedNotice } from "../raft-step/removal.js";
import { encodeFrame, encodeJsonFrame, FrameKind, type Hello } from "./peer-frames.js";
import type { PeerLinkStatus, Transport } from "./transport.js";

export interface ReplicateOptions {
  readonly capacityItems: number;
  readonly batchItems: number;
  /** Largest frame we send (the receiver enforces its own limit too). */
  readonly maxFrameBytes: number;
  /** Bytes buffered in a peer's socket beyond which new messages to it are dropped. */
  readonly maxBufferedBytes: number;
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
  /** Tests shorten it; the default is the constant below. */
  readonly probeAfterUpMs?: number;
}

/**
 * Only a link up this long is retried at once when it closes: a peer that accepts and then
 * drops us (a refused hello) is retried with backoff, not in a tight loop.
 */
const probeAfterUpMs = 1_000;
/**
 * After such a loss, connections are retried this many times, this far apart: a killed
 * process may still hold its listening socket for a moment while the kernel closes its files
 * (a retry then connects and is reset at once), so one accepted retry proves nothing.
 */
const probeRetries = 4;
const probeRetryMs = 10;

type ReplicateItem =
  | { readonly kind: "raft"; readonly messages: readonly Message[] }
  | { readonly kind: "frame"; readonly to: NodeId; readonly frame: Buffer };

/**
 * One outbound TCP connection to one peer, reconnected with exponential backoff. A link that
 * was up and closes is retried at once, once: if that connection is refused, nothing listens
 * on the peer's port — its process is gone (killed, crashed, stopped) — and `unreachable`
 * says so, so that a follower of a dead leader need not wait out its election timeout. A peer
 * that is alive accepts the retry (a link reset, a restarted link); a partition refuses
 * nothing, it is silent.
 */
class PeerLink {
  private socket: Socket | null = null;
  private connected = false;
  private backoffMs: number;
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Retries left after a link that was up closed; a refusal meanwhile: the peer is gone. */
  private probesLeft = 0;
  /** The connection in progress is one of those retries. */
  private probing = false;
  private upSinceMs = 0;
  dropped = 0;
  sentFrames = 0;

  constructor(
    readonly name: NodeId,
    readonly address: string,
    private readonly hello: Hello,
    private readonly options: ReplicateOptions,
    private readonly log: Logger,
    private readonly unreachable: (name: NodeId) => void,
  ) {
    this.backoffMs = options.reconnectMinMs;
  }

  get up(): boolean {
    return this.connected;
  }

  start(): void {
    if (this.closed || this.socket !== null) return;
    const [host, port] = splitAddress(this.address);
    const socket = connect({ host, port, noDelay: true });
    this.socket = socket;
    socket.on("connect", () => {
      this.connected = true;
      this.upSinceMs = Date.now();
      this.backoffMs = this.options.reconnectMinMs;
      socket.write(encodeJsonFrame(FrameKind.hello, this.hello));
      this.log.debug({ peer: this.name }, "peer link up");
    });
    // Inbound data on an outbound link is not expected; read it so the socket does not stall.
    socket.on("data", () => {});
    socket.on("error", (error: NodeJS.ErrnoException) => {
      if (this.probing && error.code === "ECONNREFUSED" && !this.closed) {
        this.probesLeft = 0;
        this.probing = false;
        this.log.info({ peer: this.name }, "peer link down and refused: its process is gone");
        this.unreachable(this.name);
      }
    });
    socket.on("close", () => {
      const wasUp = this.connected;
      this.connected = false;
      this.socket = null;
      if (wasUp) this.log.info({ peer: this.name }, "peer link down; reconnecting");
      const probeAfterMs = this.options.probeAfterUpMs ?? probeAfterUpMs;
      const lost = wasUp && Date.now() - this.upSinceMs >= probeAfterMs;
      if (lost) this.probesLeft = probeRetries;
      this.probing = this.probesLeft > 0 && !this.closed;
      if (!this.probing) {
        this.scheduleReconnect();
        return;
      }
      this.probesLeft--;
      this.retryTimer = setTimeout(
        () => {
          this.retryTimer = null;
          this.start();
        },
        lost ? 0 : probeRetryMs,
      );
    });
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.start();
    }, this.backoffMs);
    this.backoffMs = Math.min(this.backoffMs * 2, this.options.reconnectMaxMs);
  }

  /** Write a frame, or drop it when the link is down or its buffer is full (Raft resends). */
  write(frame: Buffer): boolean {
    const socket = this.socket;
    if (
      !this.connected ||
      socket === null ||
      socket.writableLength > this.options.maxBufferedBytes
    ) {
      this.dropped++;
      return false;
    }
    socket.write(frame);
    this.sentFrames++;
    return true;
  }

  /** The peer just connected to us: it is up, so retry our link to it now, not after backoff. */
  retryNow(): void {
    if (this.closed || this.connected || this.socket !== null) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.backoffMs = this.options.reconnectMinMs;
    this.start();
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.socket?.destroy();
  }

  /** Write a last frame (if the link is up), then close once it is flushed. */
  closeAfter(frame: Buffer | null): void {
    if (frame === null || !this.connected || this.socket === null) {
      this.close();
      return;
    }
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.socket.end(frame);
  }
}

/**
 * Stage 4: ships Raft messages to peers. Messages are grouped per peer and packed into as few
 * frames as the frame limit allows; InstallSnapshot chunks get their bytes from the snapshot
 * store on the way out. One connection per peer; a full socket drops messages, never memory.
 */
export class ReplicateStage implements Transport {
  readonly stage: Stage<ReplicateItem>;
  private readonly links = new Map<NodeId, PeerLink>();
  stats = { messages: 0, frames: 0, dropped: 0, snapshotChunks: 0 };
  private started = false;
  onPeerUnreachable?: (name: NodeId) => void;

  constructor(
    private readonly self: Hello,
    peers: ReadonlyMap<NodeId, string>,
    private readonly snapshots: SnapshotStore,
    private readonly options: ReplicateOptions,
    private readonly log: Logger,
  ) {
    this.stage = new Stage<ReplicateItem>("replicate", (batch) => this.handle(batch), {
      capacityItems: options.capacityItems,
      batch: { maxItems: options.batchItems },
      concurrency: 1,
    });
    this.stage.on("error", (error) => this.log.error({ err: error }, "replicate batch failed"));
    for (const [name, address] of peers) this.addPeer(name, address);
  }

  /** A peer said hello on our peer port: it is alive. */
  peerSeen(name: NodeId): void {
    if (this.started) this.links.get(name)?.retryNow();
  }

  addPeer(name: NodeId, address: string): void {
    if (name === this.self.name || this.links.get(name)?.address === address) return;
    this.links.get(name)?.close();
    const link = new PeerLink(name, address, this.self, this.options, this.log, (peer) =>
      this.onPeerUnreachable?.(peer),
    );
    this.links.set(name, link);
    if (this.started) link.start();
  }

  peerNames(): NodeId[] {
    return [...this.links.keys()];
  }

  /** The peer left the configuration: say so on its link (if given), close it, forget it. */
  removePeer(name: NodeId, notice: RemovedNotice | null): void {
    const link = this.links.get(name);
    if (link === undefined) return;
    this.links.delete(name);
    if (notice !== null && !link.up) {
      // The link is down right now: try a connection of its own, so the notice is not lost.
      link.close();
      this.notifyRemoved(link.address, notice);
      return;
    }
    link.closeAfter(notice === null ? null : encodeJsonFrame(FrameKind.removed, notice));
  }

  /** A removed node we have no link to is talking: tell it on a one-shot connection. */
  notifyRemoved(address: string, notice: RemovedNotice): void {
    const [host, port] = splitAddress(address);
    const socket = connect({ host, port, noDelay: true });
    socket.setTimeout(5_000, () => socket.destroy());
    socket.on("error", () => {});
    socket.on("connect", () => {
      socket.write(encodeJsonFrame(FrameKind.hello, this.self));
      socket.end(encodeJsonFrame(FrameKind.removed, notice));
    });
  }

  start(): void {
    this.started = true;
    for (const link of this.links.values()) link.start();
  }

  close(): void {
    for (const link of this.links.values()) link.close();
  }

  snapshot(): StageSnapshot {
    return this.stage.snapshot();
  }

  peerStatus(): PeerLinkStatus[] {
    return [...this.links.values()].map((link) => ({
      name: link.name,
      address: link.address,
      up: link.up,
      dropped: link.dropped,
    }));
  }

  send(messages: readonly Message[]): void {
    if (!this.stage.offer({ kind: "raft", messages })) this.stats.dropped += messages.length;
  }

  forward(
    to: NodeId,
    forwardId: number,
    id: RequestId,
    request: ClientRequest,
    admin: boolean,
  ): boolean {
    const link = this.links.get(to);
    if (link === undefined || !link.up) return false;
    return link.write(encodeJsonFrame(FrameKind.forward, { forwardId, id, request, admin }));
  }

  forwardReply(to: NodeId, forwardId: number, text: string): void {
    const frame = encodeJsonFrame(FrameKind.forwardReply, { forwardId, text });
    if (!this.links.get(to)?.write(frame)) this.stats.dropped++;
  }

  private async handle(batch: ReplicateItem[]): Promise<void> {
    const byPeer = new Map<NodeId, Message[]>();
    for (const item of batch) {
      if (item.kind === "frame") {
        this.links.get(item.to)?.write(item.frame);
        continue;
      }
      for (const message of item.messages) {
        const list = byPeer.get(message.to);
        if (list === undefined) byPeer.set(message.to, [message]);
        else list.push(message);
      }
    }
    for (const [to, messages] of byPeer) await this.sendTo(to, messages);
  }

  private async sendTo(to: NodeId, messages: Message[]): Promise<void> {
    const link = this.links.get(to);
    if (link === undefined) {
      this.stats.dropped += messages.length;
      return;
    }
    let batch: Message[] = [];
    let batchBytes = 0;
    const flush = () => {
      if (batch.length === 0) return;
      if (link.write(encodeFrame(FrameKind.raft, encodeMessages(batch)))) this.stats.frames++;
      else this.stats.dropped += batch.length;
      batch = [];
      batchBytes = 0;
    };
    for (const message of messages) {
      this.stats.messages++;
      let outgoing = message;
      if (message.type === "snapshot") {
        const data = await this.snapshots.read(message.meta.index, message.offset, message.length);
        if (data === null) continue; // that snapshot is gone; the leader streams its newer one
        outgoing = { ...message, data };
        this.stats.snapshotChunks++;
      }
      const size = estimateBytes(outgoing);
      if (batchBytes + size > this.options.maxFrameBytes) flush();
      batch.push(outgoing);
      batchBytes += size;
    }
    flush();
  }
}

function estimateBytes(message: Message): number {
  if (message.type === "append")
    return 128 + message.entries.reduce((sum, entry) => sum + entry.data.length + 32, 0);
  if (message.type === "snapshot") return 256 + message.data.length;
  return 128;
}

export function splitAddress(address: string): [string, number] {
  const colon = address.lastIndexOf(":");
  return [address.slice(0, colon), Number(address.slice(colon + 1))];
}
