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
import { SESSION_PREFIX, type SessionSettings, SessionTable } from "./sessions.js";

export interface ApplyOptions {
  readonly capacityItems: number;
  readonly batchItems: number;
  /** Snapshot and compact every this many applied entries (0: only on request). */
  readonly snapshotEvery: number;
  readonly sessions: SessionSettings;
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
  private readonly sessions: SessionTable;
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
    this.sessions = new SessionTable(options.sessions);
    this.lastSnapshotIndex = snapshots.latest()?.index ?? 0;
    this.stage = new Stage<ApplyItem>("apply", (batch) => this.handle(batch), {
      capacityItems: options.capacityItems,
      batch: { maxItems: options.batchItems },
      concurrency: 1,
    });
    this.stage.on("error", (error) => this.log.error({ err: error }, "apply batch failed"));
  }

  /** Load the session table the engine holds, then start the timeout sweep. */
  async start(): Promise<void> {
    await this.loadSessions();
    this.sweepTimer = setInterval(() => this.expire(), 50);
  }

  private async loadSessions(): Promise<void> {
    this.sessions.load(
      await this.engine.scan({ prefix: SESSION_PREFIX, limit: Number.MAX_SAFE_INTEGER }),
    );
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
          await this.loadSessions();
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

  /**
   * Apply committed entries. Session writes already answered are not applied again: their
   * first answer is given. Session expiry runs exactly at entries whose index is a multiple
   * of expireEvery, so the batch is cut there: every replica expires at the same log position.
   */
  private async applyEntries(entries: readonly Entry[]): Promise<void> {
    let start = 0;
    for (let k = 0; k < entries.length; k++) {
      if (k === entries.length - 1 || this.sessions.shouldExpireAt(entries[k]!.index)) {
        await this.applySegment(entries.slice(start, k + 1));
        start = k + 1;
      }
    }
    const lastIndex = entries.at(-1)!.index;
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

  private async applySegment(entries: readonly Entry[]): Promise<void> {
    const commands: { index: number; command: KvCommand }[] = [];
    const sessionOf: ({ id: string; seq: number; ts: number; index: number } | null)[] = [];
    const answered = new Map<number, ReplyBody>();
    const sameAs = new Map<number, number>();
    const firstInSegment = new Map<string, number>();
    const last = entries.at(-1)!;
    let expireTs: number | null = null;
    for (const entry of entries) {
      if (entry.type !== EntryType.normal || entry.data.length === 0) continue;
      const command = decodeCommand(entry.data);
      if (entry === last && this.sessions.shouldExpireAt(entry.index)) expireTs = command.ts;
      const session = command.session;
      if (session !== undefined) {
        const prior = this.sessions.lookup(session.id, session.seq);
        if (prior === "evicted") {
          answered.set(
            entry.index,
            fail(
              ErrorCode.badRequest,
              `seq ${session.seq} is older than the answers kept for session ${session.id}`,
            ),
          );
          continue;
        }
        if (prior !== null) {
          answered.set(entry.index, prior);
          continue;
        }
        const key = `${session.id}\u0000${session.seq}`;
        const first = firstInSegment.get(key);
        if (first !== undefined) {
          sameAs.set(entry.index, first);
          continue;
        }
        firstInSegment.set(key, entry.index);
      }
      commands.push({ index: entry.index, command: command.kv });
      sessionOf.push(
        session === undefined ? null : { ...session, ts: command.ts, index: entry.index },
      );
    }
    const sidecar = (results: readonly KvResult[]) => {
      const writes = [];
      for (const [k, session] of sessionOf.entries()) {
        if (session === null) continue;
        writes.push(
          this.sessions.record(
            session.id,
            session.seq,
            writeReply(results[k]!, session.index),
            session.ts,
          ),
        );
      }
      if (expireTs !== null) writes.push(...this.sessions.expire(expireTs));
      return writes;
    };
    const results = await this.engine.applyBatch(commands, last.index, sidecar);
    const replyByIndex = new Map<number, ReplyBody>(answered);
    for (const [k, command] of commands.entries())
      replyByIndex.set(command.index, writeReply(results[k]!, command.index));
    for (const [index, first] of sameAs) replyByIndex.set(index, replyByIndex.get(first)!);
    for (const entry of entries) this.answerWaiter(entry, replyByIndex.get(entry.index));
  }

  private answerWaiter(entry: Entry, reply: ReplyBody | undefined): void {
    const waiter = this.waiters.get(entry.index);
    if (waiter === undefined) return;
    this.waiters.delete(entry.index);
    if (waiter.term !== entry.term || reply === undefined) {
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
    this.reply(waiter.target, reply);
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
      // Reserved keys (session records) start with U+0000: user scans begin after them.
      const start =
        request.start !== undefined && request.start > RESERVED_END ? request.start : RESERVED_END;
      const items = await this.engine.scan({
        limit: request.limit,
        start,
        ...(request.prefix !== undefined ? { prefix: request.prefix } : {}),
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

const RESERVED_END = "\u0001";

function fail(code: ErrorCode, message: string): ReplyBody {
  return { ok: false, error: { code, message } };
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
