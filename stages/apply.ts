import type { Logger } from "pino";
import { Stage, type StageSnapshot } from "../queues/mod.js";
import { type Entry, EntryType } from "../raft/types.js";
import type { KvCommand, KvEngine, KvResult } from "../storage/engines/engine.js";
import type { SnapshotStore } from "../storage/snapshot-store.js";
import { decodeCommand } from "./commands.js";
import type {
  ApplyItem,
  QueuePort,
  RaftStepPort,
  ReplyBody,
  ReplyTarget,
  RespondPort,
  WalItem,
} from "./items.js";
import { type ClientRequest, ErrorCode } from "./protocol.js";

export interface ApplyOptions {
  readonly capacityItems: number;
  readonly batchItems: number;
  /** Snapshot and compact every this many applied entries (0: only on request). */
  readonly snapshotEvery: number;
}

export interface ApplyPorts {
  readonly raftStep: RaftStepPort;
  readonly respond: RespondPort;
  readonly wal: QueuePort<WalItem>;
}

interface Waiter {
  readonly term: number;
  readonly target: ReplyTarget;
  readonly request: ClientRequest;
  readonly deadline: number;
}

interface WaitingRead {
  readonly index: number;
  readonly target: ReplyTarget;
  readonly request: ClientRequest;
  readonly deadline: number;
}

/**
 * Stage 5: applies committed entries in log order to the engine, answers the proposals that
 * were waiting for them, serves reads once the applied index reaches their read index, and
 * snapshots the engine every `snapshotEvery` entries. Strictly sequential (concurrency 1).
 */
export class ApplyStage {
  readonly stage: Stage<ApplyItem>;
  private readonly waiters = new Map<number, Waiter>();
  /** Reads waiting for appliedIndex, in arrival order (read indices only grow per node). */
  private waitingReads: WaitingRead[] = [];
  private appliedIndex: number;
  private lastSnapshotIndex: number;
  private sweepTimer: NodeJS.Timeout | null = null;
  stats = { applied: 0, answered: 0, reads: 0, timeouts: 0, snapshots: 0 };

  constructor(
    private readonly engine: KvEngine,
    private readonly snapshots: SnapshotStore,
    private readonly ports: ApplyPorts,
    private readonly options: ApplyOptions,
    private readonly log: Logger,
    appliedIndex: number,
  ) {
    this.appliedIndex = appliedIndex;
    this.lastSnapshotIndex = snapshots.latest()?.index ?? 0;
    this.stage = new Stage<ApplyItem>("apply", (batch) => this.handle(batch), {
      capacityItems: options.capacityItems,
      batch: { maxItems: options.batchItems },
      concurrency: 1,
    });
    this.stage.on("error", (error) => this.log.error({ err: error }, "apply batch failed"));
  }

  start(): void {
    this.sweepTimer = setInterval(() => this.expire(), 50);
  }

  stop(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
  }

  offer(item: ApplyItem): boolean {
    return this.stage.offer(item);
  }

  hasRoom(items: number, bytes: number): boolean {
    return this.stage.hasRoom(items, bytes);
  }

  snapshot(): StageSnapshot {
    return this.stage.snapshot();
  }

  private async handle(batch: ApplyItem[]): Promise<void> {
    for (const item of batch) {
      switch (item.kind) {
        case "wait":
          this.waiters.set(item.index, item);
          break;
        case "read":
          if (item.index <= this.appliedIndex) await this.serveRead(item);
          else this.waitingReads.push(item);
          break;
        case "committed":
          await this.applyEntries(item.entries);
          break;
        case "snapshot": {
          const index = await this.takeSnapshot();
          this.reply(item.target, { ok: true, result: { index } });
          break;
        }
        case "restore":
          await this.engine.restore(item.path, item.meta.index);
          this.appliedIndex = item.meta.index;
          this.lastSnapshotIndex = item.meta.index;
          this.log.info(
            { index: item.meta.index, term: item.meta.term },
            "state restored from an installed snapshot",
          );
          break;
      }
    }
    this.ports.raftStep.kick();
  }

  private async applyEntries(entries: readonly Entry[]): Promise<void> {
    const commands: { index: number; command: KvCommand }[] = [];
    for (const entry of entries) {
      if (entry.type !== EntryType.normal || entry.data.length === 0) continue;
      commands.push({ index: entry.index, command: decodeCommand(entry.data).kv });
    }
    const lastIndex = entries.at(-1)!.index;
    const results = await this.engine.applyBatch(commands, lastIndex);
    const resultByIndex = new Map<number, KvResult>();
    for (const [k, command] of commands.entries()) resultByIndex.set(command.index, results[k]!);
    for (const entry of entries) this.answerWaiter(entry, resultByIndex.get(entry.index));
    this.appliedIndex = lastIndex;
    this.stats.applied += entries.length;
    this.ports.raftStep.onApplied(lastIndex);
    await this.serveReadyReads();
    if (
      this.options.snapshotEvery > 0 &&
      this.appliedIndex - this.lastSnapshotIndex >= this.options.snapshotEvery
    ) {
      await this.takeSnapshot();
    }
  }

  private answerWaiter(entry: Entry, result: KvResult | undefined): void {
    const waiter = this.waiters.get(entry.index);
    if (waiter === undefined) return;
    this.waiters.delete(entry.index);
    if (waiter.term !== entry.term || result === undefined) {
      // Another leader's entry took this index: our proposal can never be applied.
      this.reply(waiter.target, {
        ok: false,
        error: {
          code: ErrorCode.unavailable,
          message: "leadership changed; the write was not applied",
        },
      });
      return;
    }
    this.reply(waiter.target, writeReply(result, entry.index));
  }

  private async serveReadyReads(): Promise<void> {
    if (this.waitingReads.length === 0) return;
    const ready = this.waitingReads.filter((read) => read.index <= this.appliedIndex);
    this.waitingReads = this.waitingReads.filter((read) => read.index > this.appliedIndex);
    for (const read of ready) await this.serveRead(read);
  }

  private async serveRead(read: WaitingRead): Promise<void> {
    this.stats.reads++;
    const { request } = read;
    if (request.op === "get") {
      const value = await this.engine.get(request.key);
      this.reply(read.target, {
        ok: true,
        result: { found: value !== null, value, index: this.appliedIndex },
      });
    } else if (request.op === "scan") {
      const items = await this.engine.scan({
        limit: request.limit,
        ...(request.prefix !== undefined ? { prefix: request.prefix } : {}),
        ...(request.start !== undefined ? { start: request.start } : {}),
        ...(request.end !== undefined ? { end: request.end } : {}),
      });
      this.reply(read.target, { ok: true, result: { items, index: this.appliedIndex } });
    }
  }

  /** Snapshot: checkpoint the engine, compact the core, then the WAL (in its own order). */
  async takeSnapshot(): Promise<number> {
    const index = this.appliedIndex;
    if (index <= this.lastSnapshotIndex) return this.lastSnapshotIndex;
    const size = await this.engine.checkpoint(this.snapshots.tempPath());
    const { meta, retainFrom } = this.ports.raftStep.compact(index, size);
    await this.snapshots.commit(meta);
    this.lastSnapshotIndex = index;
    this.stats.snapshots++;
    if (!this.ports.wal.offer({ kind: "compact", meta, upTo: retainFrom - 1 })) {
      this.log.warn({ index }, "wal-append is full; the log is compacted at the next snapshot");
    }
    return index;
  }

  private expire(): void {
    const now = Date.now();
    for (const [index, waiter] of this.waiters) {
      if (waiter.deadline > now) continue;
      this.waiters.delete(index);
      this.stats.timeouts++;
      this.reply(waiter.target, {
        ok: false,
        error: {
          code: ErrorCode.timeout,
          message: "not applied in time; the write may or may not be applied later",
        },
      });
    }
    if (this.waitingReads.some((read) => read.deadline <= now)) {
      for (const read of this.waitingReads.filter((r) => r.deadline <= now)) {
        this.stats.timeouts++;
        this.reply(read.target, {
          ok: false,
          error: { code: ErrorCode.timeout, message: "the read was not served in time" },
        });
      }
      this.waitingReads = this.waitingReads.filter((read) => read.deadline > now);
    }
  }

  private reply(target: ReplyTarget, body: ReplyBody): void {
    this.stats.answered++;
    this.ports.respond.reply({ target, body });
  }
}

function writeReply(result: KvResult, index: number): ReplyBody {
  switch (result.op) {
    case "put":
      return { ok: true, result: { index } };
    case "delete":
      return { ok: true, result: { deleted: result.deleted, index } };
    case "cas":
      return { ok: true, result: { succeeded: result.succeeded, value: result.value, index } };
    case "incr":
      if ("error" in result) {
        return {
          ok: false,
          error: {
            code: ErrorCode.badRequest,
            message: `incr: the value ${JSON.stringify(result.value.slice(0, 64))} is not an integer`,
          },
        };
      }
      return { ok: true, result: { value: result.value, index } };
  }
}
