import type { Logger } from "pino";
import type { Timer } from "../../queues/clock.js";
import type { ReplyTarget } from "../items.js";
import { ErrorCode, type RequestId } from "../protocol.js";
import { encodable, eventBytes, splitFrames, type WireEvent } from "./watch-index.js";
import type {
  Connection,
  Frame,
  newHubStats,
  Watch,
  WatchHubOptions,
  WatchRespond,
  WatchScheduler,
} from "./watch-state.js";

/** What delivery asks of the hub (watch-hub.ts), which owns the watches and connections. */
export interface DeliveryHub {
  readonly connections: ReadonlyMap<number, Connection>;
  /** The connection is gone: free its watches. */
  closeConnection(connId: number): void;
  /** End `watch`, telling the client why. */
  cancel(watch: Watch, reason: string, extra: Record<string, unknown>): void;
  /** `watch` has no frames held back any more (a watch catching up reads on). */
  unblocked(watch: Watch): void;
}

/**
 * One watch's way out: its events cut into frames, handed to respond while the connection
 * reads, else held back (bounded per connection: past maxPendingBytesPerConnection the watch
 * is cancelled) and flushed on a timer that runs only while some watch is held back; and the
 * live events a catching-up watch buffers (bounded per connection: past
 * maxCatchupBufferBytes the buffer is dropped and the history read on instead).
 */
export class WatchDelivery {
  /** Watches with frames held back by a full connection. */
  private readonly blocked = new Set<Watch>();
  /** Runs only while some watch is held back. */
  private flushTimer: Timer | null = null;

  constructor(
    private readonly hub: DeliveryHub,
    private readonly respond: WatchRespond,
    private readonly scheduler: WatchScheduler,
    private readonly options: WatchHubOptions,
    private readonly stats: ReturnType<typeof newHubStats>,
    private readonly log: Logger,
  ) {}

  stop(): void {
    this.flushTimer?.cancel();
    this.flushTimer = null;
  }

  /** `watch` is freed: its held frames go with it. */
  forget(watch: Watch): void {
    this.blocked.delete(watch);
    const connection = this.hub.connections.get(watch.connId);
    if (connection !== undefined)
      for (const frame of watch.pending) connection.pendingBytes -= frame.bytes;
    watch.pending = [];
    this.dropBuffer(watch);
  }

  /** Deliver `events` to `watch`, which is then through `revision`. */
  deliver(watch: Watch, events: WireEvent[], revision: number): void {
    const huge = events.findIndex((e) => !encodable(e, this.options.maxEventChars));
    if (huge >= 0) {
      this.cancelTooLarge(watch, events, events[huge]!.kv.modRevision);
      return;
    }
    watch.through = revision;
    for (const frame of splitFrames(events, revision, this.options.maxFrameBytes)) {
      if (watch.closed) return;
      this.deliverFrame(watch, frame);
    }
  }

  /** Hand held frames on to connections that read again; a watch catching up reads on. */
  flush(): void {
    for (const watch of [...this.blocked]) {
      if (watch.closed) continue;
      const room = this.respond.room(target(watch.connId));
      if (room === "gone") {
        this.hub.closeConnection(watch.connId);
        continue;
      }
      const connection = this.hub.connections.get(watch.connId)!;
      while (watch.pending.length > 0 && this.respond.room(target(watch.connId)) === "open") {
        const frame = watch.pending.shift()!;
        connection.pendingBytes -= frame.bytes;
        this.send(watch, frame);
      }
      if (watch.pending.length > 0) continue;
      this.blocked.delete(watch);
      this.hub.unblocked(watch);
    }
    if (this.blocked.size === 0 && this.flushTimer !== null) {
      this.flushTimer.cancel();
      this.flushTimer = null;
    }
  }

  /** Bounded per connection: its catching-up watches together (each may be thousands). */
  bufferLive(watch: Watch, events: WireEvent[], applied: number): void {
    const connection = this.hub.connections.get(watch.connId)!;
    let bytes = 0;
    for (const event of events) {
      watch.buffer.push(event);
      bytes += eventBytes(event);
    }
    watch.bufferBytes += bytes;
    connection.bufferBytes += bytes;
    if (connection.bufferBytes > this.options.maxCatchupBufferBytes) {
      // Dropped: the history reads go on further instead (it keeps the same changes).
      this.dropBuffer(watch);
      watch.bufferFrom = applied;
    }
  }

  dropBuffer(watch: Watch): void {
    const connection = this.hub.connections.get(watch.connId);
    if (connection !== undefined) connection.bufferBytes -= watch.bufferBytes;
    watch.buffer = [];
    watch.bufferBytes = 0;
  }

  /**
   * No frame can carry an event of revision `at` (a value of control characters near the value
   * limit, each escaped as 6): what precedes it goes out, then the watch ends rather than skip.
   */
  private cancelTooLarge(watch: Watch, events: WireEvent[], at: number): void {
    const before = events.filter((e) => e.kv.modRevision < at);
    if (before.length > 0) this.deliver(watch, before, at - 1);
    if (watch.closed) return;
    this.stats.canceledTooLarge++;
    this.log.warn({ watch: watch.id, connId: watch.connId, revision: at }, "watch event too large");
    this.hub.cancel(
      watch,
      `${ErrorCode.tooLarge}: an event of revision ${at} is longer than ${this.options.maxEventChars} characters as JSON and cannot be sent; the watch cannot go past it`,
      { revision: watch.handedThrough },
    );
  }

  private deliverFrame(watch: Watch, frame: Frame): void {
    if (watch.pending.length === 0) {
      const room = this.respond.room(target(watch.connId));
      if (room === "gone") {
        this.hub.closeConnection(watch.connId);
        return;
      }
      if (room === "open") {
        this.send(watch, frame);
        return;
      }
    }
    const connection = this.hub.connections.get(watch.connId)!;
    connection.pendingBytes += frame.bytes;
    watch.pending.push(frame);
    if (connection.pendingBytes > this.options.maxPendingBytesPerConnection) {
      this.cancelSlow(watch);
      return;
    }
    this.blocked.add(watch);
    this.flushTimer ??= this.scheduler.every(this.options.flushIntervalMs, () => this.flush());
  }

  private send(watch: Watch, frame: Frame): void {
    this.respond.push(
      watch.connId,
      {
        watch: watch.id,
        events: frame.events,
        revision: frame.revision,
        ...(frame.fragment ? { fragment: true } : {}),
      },
      frame.bytes,
    );
    watch.handedThrough = frame.revision;
    watch.busy = true;
    this.stats.frames++;
    this.stats.events += frame.events.length;
  }

  private cancelSlow(watch: Watch): void {
    this.stats.canceledSlow++;
    const resume = watch.handedThrough + 1;
    this.log.debug({ watch: watch.id, connId: watch.connId, resume }, "slow watcher cancelled");
    this.hub.cancel(
      watch,
      `the client did not read its watch events fast enough; resume from revision ${resume}`,
      { revision: watch.handedThrough },
    );
  }
}

/** A reply's target on connection `connId` (a frame answers no request: id 0). */
export function target(connId: number, id: RequestId = 0): ReplyTarget {
  return { kind: "local", connId, id };
}
