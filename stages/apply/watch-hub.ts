import type { Logger } from "pino";
import type { Timer } from "../../queues/clock.js";
import type { HistoryPort, HistoryRead, KvChanges } from "../../storage/engines/revisions.js";
import type { ReplyBody, WatchItem } from "../items.js";
import { ErrorCode, type RequestId, type WatchRequest } from "../protocol.js";
import { target, WatchDelivery } from "./watch-delivery.js";
import { rangeOf, select, specOf, WatchIndex } from "./watch-index.js";
import {
  type Connection,
  newHubStats,
  newWatch,
  type Watch,
  type WatchHubOptions,
  type WatchRespond,
  type WatchScheduler,
} from "./watch-state.js";

export type { WatchHubOptions, WatchScheduler } from "./watch-state.js";
export { defaultWatchHubOptions } from "./watch-state.js";

/**
 * Serves watches (CONTRACT §5) from this node's applied stream. It runs inside the apply stage:
 * watch requests, closed connections, applied changes and restores reach it in log order, so a
 * watch without startRevision starts exactly after the applied index, and one from the past
 * reads the kept history, then goes live with nothing skipped or repeated. Frames go out
 * through respond (the connection's reply budget applies); a watch whose connection does not
 * read is held back, then cancelled, so a slow watcher costs bounded memory (docs/watch.md).
 */
export class WatchHub {
  private readonly index = new WatchIndex<Watch>();
  private readonly connections = new Map<number, Connection>();
  /** Frames out, held back, flushed; catch-up buffers (watch-delivery.ts). */
  private readonly delivery: WatchDelivery;
  private nextId = 1;
  private applied: number;
  private progressTimer: Timer | null = null;
  stats = newHubStats();

  constructor(
    private readonly respond: WatchRespond,
    private readonly history: HistoryPort,
    private readonly scheduler: WatchScheduler,
    private readonly options: WatchHubOptions,
    private readonly log: Logger,
    appliedIndex: number,
  ) {
    this.applied = appliedIndex;
    this.delivery = new WatchDelivery(
      {
        connections: this.connections,
        closeConnection: (connId) => this.closeConnection(connId),
        cancel: (watch, reason, extra) => this.cancel(watch, reason, extra),
        unblocked: (watch) => {
          if (watch.mode === "catchup") this.readHistory(watch);
        },
      },
      respond,
      scheduler,
      options,
      this.stats,
      log,
    );
  }

  start(): void {
    this.progressTimer ??= this.scheduler.every(this.options.progressIntervalMs, () =>
      this.progress(),
    );
  }

  stop(): void {
    this.progressTimer?.cancel();
    this.progressTimer = null;
    this.delivery.stop();
  }

  /** A watch request or a closed connection, in order with the entries applied before it. */
  handle(item: WatchItem, appliedIndex: number): void {
    this.applied = Math.max(this.applied, appliedIndex);
    if (item.kind === "watch-closed") this.closeConnection(item.connId);
    else if (item.request.op === "watch") this.create(item.connId, item.id, item.request);
    else this.cancelRequest(item.connId, item.id, item.request.watch);
  }

  /** The changes of the entries applied through `appliedIndex` (in revision order). */
  onChanges(changes: readonly KvChanges[], appliedIndex: number): void {
    this.applied = Math.max(this.applied, appliedIndex);
    for (const [watch, events] of this.index.route(changes)) {
      if (watch.closed) continue; // Its connection went while this loop delivered.
      if (watch.mode === "catchup") {
        this.delivery.bufferLive(watch, events, this.applied);
        continue;
      }
      const fresh = events.filter(
        (e) => e.kv.modRevision > watch.through && e.kv.modRevision >= watch.from,
      );
      if (fresh.length > 0) this.delivery.deliver(watch, fresh, this.applied);
    }
    this.delivery.flush();
  }

  /**
   * A snapshot replaced the state at `index` without its changes passing here: every watch
   * behind it reads them from the history the snapshot carried (or is cancelled COMPACTED).
   */
  onRestore(index: number): void {
    const behind: Watch[] = [];
    for (const connection of this.connections.values())
      for (const watch of connection.watches.values()) {
        const through = this.throughOf(watch); // Before the applied index jumps.
        if (through >= index) continue;
        watch.through = through;
        behind.push(watch);
      }
    this.applied = Math.max(this.applied, index);
    for (const watch of behind) this.beginCatchup(watch);
  }

  get size(): number {
    return this.stats.watches;
  }

  /** The live events held by catching-up watches (estimated wire bytes). */
  get bufferedBytes(): number {
    let bytes = 0;
    for (const connection of this.connections.values()) bytes += connection.bufferBytes;
    return bytes;
  }

  private create(connId: number, id: RequestId, request: WatchRequest): void {
    let connection = this.connections.get(connId);
    if (connection === undefined) {
      if (this.respond.room(target(connId, id)) === "gone") return;
      connection = { watches: new Map(), pendingBytes: 0, bufferBytes: 0 };
      this.connections.set(connId, connection);
    }
    if (connection.watches.size >= this.options.maxWatchesPerConnection) {
      this.reply(connId, id, {
        ok: false,
        error: {
          code: ErrorCode.overloaded,
          message: `a connection may hold at most ${this.options.maxWatchesPerConnection} watches`,
        },
      });
      return;
    }
    const from = request.startRevision ?? this.applied + 1;
    const watch = newWatch(this.nextId++, connId, specOf(request), from, this.applied);
    connection.watches.set(watch.id, watch);
    this.index.add(watch);
    this.stats.watches++;
    this.stats.created++;
    if (from > this.applied) {
      this.reply(connId, id, { ok: true, result: { watch: watch.id, revision: this.applied } });
      return;
    }
    watch.through = from - 1;
    watch.createReply = id;
    this.beginCatchup(watch);
  }

  private cancelRequest(connId: number, id: RequestId, watchId: number): void {
    const watch = this.connections.get(connId)?.watches.get(watchId);
    if (watch === undefined) {
      this.reply(connId, id, {
        ok: false,
        error: {
          code: ErrorCode.badRequest,
          message: `"watch" ${watchId} is not a watch of this connection`,
        },
      });
      return;
    }
    this.remove(watch);
    this.reply(connId, id, { ok: true, result: { canceled: true } });
  }

  private closeConnection(connId: number): void {
    const connection = this.connections.get(connId);
    if (connection === undefined) return;
    for (const watch of [...connection.watches.values()]) this.remove(watch);
    this.connections.delete(connId);
  }

  /** Free a watch: out of the index, its held frames dropped, any read in flight ignored. */
  private remove(watch: Watch): void {
    if (watch.closed) return;
    watch.closed = true;
    watch.generation++;
    this.index.delete(watch);
    this.delivery.forget(watch);
    this.connections.get(watch.connId)?.watches.delete(watch.id);
    this.stats.watches--;
  }

  /** The server ends a watch: the client is told why (and where to resume, when it may). */
  private cancel(watch: Watch, reason: string, extra: Record<string, unknown>): void {
    this.remove(watch);
    this.respond.push(watch.connId, { watch: watch.id, canceled: true, reason, ...extra });
  }

  /** Frames up to here are made (live watches follow the applied index). */
  private throughOf(watch: Watch): number {
    return watch.mode === "live" ? Math.max(watch.through, this.applied) : watch.through;
  }

  /** Idle live watches learn the applied revision: everything up to it was delivered. */
  private progress(): void {
    for (const [connId, connection] of this.connections) {
      // A close that found apply's queue full is caught here: its watches are freed.
      const room = this.respond.room(target(connId, 0));
      if (room === "gone") {
        this.closeConnection(connId);
        continue;
      }
      for (const watch of connection.watches.values()) {
        const idle = watch.mode === "live" && watch.pending.length === 0 && !watch.busy;
        watch.busy = false;
        if (!idle) {
          if (watch.mode === "catchup") this.readHistory(watch); // A stalled read retries.
          continue;
        }
        if (room !== "open") continue;
        const revision = this.throughOf(watch);
        this.respond.push(watch.connId, { watch: watch.id, events: [], revision });
        watch.handedThrough = revision;
      }
    }
  }

  // ------------------------------------------------------------ catch-up from history

  private beginCatchup(watch: Watch): void {
    watch.mode = "catchup";
    watch.generation++;
    watch.reading = false;
    this.delivery.dropBuffer(watch);
    watch.bufferFrom = this.applied;
    this.readHistory(watch);
  }

  private readHistory(watch: Watch): void {
    if (watch.closed || watch.reading || watch.pending.length > 0) return;
    watch.reading = true;
    const { generation } = watch;
    const from = watch.through + 1;
    const limit = this.options.historyBatchEvents;
    this.history.history(from, rangeOf(watch.spec), limit).then(
      (read) => {
        if (watch.generation !== generation) return;
        watch.reading = false;
        this.historyRead(watch, from, read);
      },
      (error: unknown) => {
        if (watch.generation !== generation) return;
        this.log.error({ err: error, watch: watch.id }, "a watch could not read the history");
        const message = "this node could not read its history; watch on another node";
        if (watch.createReply !== null)
          this.reply(watch.connId, watch.createReply, {
            ok: false,
            error: { code: ErrorCode.unavailable, message },
          });
        else this.cancel(watch, message, { revision: watch.handedThrough });
        this.remove(watch);
      },
    );
  }

  private historyRead(watch: Watch, from: number, read: HistoryRead): void {
    if (!read.ok) {
      this.stats.compacted++;
      const message = `${ErrorCode.compacted}: revision ${from} is older than the kept history (the oldest kept is ${read.compactedRevision})`;
      if (watch.createReply !== null) {
        this.remove(watch);
        this.reply(watch.connId, watch.createReply, {
          ok: false,
          error: { code: ErrorCode.compacted, message },
        });
      } else this.cancel(watch, message, { compactRevision: read.compactedRevision });
      return;
    }
    if (watch.createReply !== null) {
      this.reply(watch.connId, watch.createReply, {
        ok: true,
        result: { watch: watch.id, revision: this.applied },
      });
      watch.createReply = null;
    }
    const through = Math.max(read.throughRevision, watch.through);
    const events = select(watch.spec, read.changes).filter((e) => e.kv.modRevision >= from);
    if (through < watch.bufferFrom) {
      // The read was cut by its limit: deliver what it gave, read on once that is taken.
      if (events.length > 0) this.delivery.deliver(watch, events, through);
      watch.through = through;
      if (through >= from && !watch.closed) this.readHistory(watch);
      return; // No progress (should not happen): the progress tick retries.
    }
    // The history reaches the live changes buffered since bufferFrom: join them and go live.
    for (const event of watch.buffer) if (event.kv.modRevision > through) events.push(event);
    this.delivery.dropBuffer(watch);
    watch.mode = "live";
    const revision = Math.max(through, this.applied);
    watch.through = revision;
    if (events.length > 0) this.delivery.deliver(watch, events, revision);
  }

  private reply(connId: number, id: RequestId, body: ReplyBody): void {
    this.respond.reply({ target: target(connId, id), body });
  }
}
