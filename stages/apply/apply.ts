import { rm } from "node:fs/promises";
import type { Logger } from "pino";
import {
  type Clock,
  Stage,
  type StageSnapshot,
  systemClock,
  type Timer,
} from "../../queues/mod.js";
import { type Entry, EntryType } from "../../raft/types.js";
import { unpackArchive } from "../../storage/archive.js";
import type { KvChanges } from "../../storage/engines/revisions.js";
import type { SnapshotStore } from "../../storage/snapshot-store.js";
import type {
  ApplyItem,
  Fatal,
  QueuePort,
  RaftStepPort,
  ReplyBody,
  ReplyTarget,
  RespondPort,
  WalItem,
  WatchItem,
} from "../items.js";
import { ErrorCode } from "../protocol.js";
import { decodeCommand } from "./commands.js";
import { ownAnswer } from "./lease-apply.js";
import { ReadServer } from "./read-server.js";
import { SnapshotJob } from "./snapshot-job.js";
import type { StateMachinePort } from "./state-machine.js";
import { Waiters } from "./waiters.js";

export interface ApplyOptions {
  readonly capacityItems: number;
  readonly batchItems: number;
  /**
   * Snapshot at every applied index that is a multiple of this (0: only on request). The
   * points are log positions, the same on every replica: HNSW indexes reload from the file at
   * a snapshot, and replicas must do so at the same entries to stay identical.
   */
  readonly snapshotEvery: number;
  /** Where the state machine runs (reported in the stage's metrics). */
  readonly pool: "inline" | "workers";
  /** Writes waiting for their entry, at most (default requestsWaitingMax). */
  readonly waitersMax?: number;
  /** Reads waiting for the applied index to reach theirs, at most (default requestsWaitingMax). */
  readonly waitingReadsMax?: number;
}

export interface ApplyPorts {
  readonly raftStep: RaftStepPort;
  readonly respond: RespondPort;
  readonly wal: QueuePort<WalItem>;
  /** A batch or a snapshot failed half-way: stop the node (src/node.ts; exit 70). */
  readonly fatal: Fatal;
  /**
   * After each applied run: its KV changes (log order; empty when it changed no key) and the
   * applied index it reached — the watch hub's feed. Called before the run's writes are
   * answered.
   */
  readonly onChanges?: (changes: readonly KvChanges[], appliedIndex: number) => void;
  /** Default: the process's clock; remu's virtual one in simulation. */
  readonly clock?: Clock;
  /** The watch hub (watch-hub.ts): watch items and restores reach it in log order. */
  readonly watches?: {
    handle(item: WatchItem, appliedIndex: number): void;
    onRestore(index: number): void;
    /** Its timers run from start() to stop(), as this stage's. */
    start(): void;
    stop(): void;
  };
}

/**
 * Stage 5: applies committed entries in log order to the state machine (engines and session
 * table), answers the proposals waiting for them, serves reads once the applied index reaches
 * their read index, and snapshots at fixed log positions and at snapshot entries. Strictly
 * sequential (concurrency 1).
 */
export class ApplyStage {
  readonly stage: Stage<ApplyItem>;
  /** Writes waiting for their entry (waiters.ts): at most waiters.capacity. */
  private readonly waiters: Waiters;
  /** "wait" items accepted by the queue and not yet in `waiters` (waitersRoom counts them). */
  private waitsQueued = 0;
  /** Reads, served at their read index (read-server.ts). */
  private readonly reads: ReadServer;
  private appliedIndex: number;
  private sweepTimer: Timer | null = null;
  private readonly clock: Clock;
  /** The snapshot being written in the background (snapshot-job.ts). */
  private readonly snapshotJob: SnapshotJob;
  stats = {
    applied: 0,
    answered: 0,
    reads: 0,
    /** Reads answered OVERLOADED unserved: their client had too many replies unread. */
    readsRefused: 0,
    /** Reads not served: their client had gone. */
    readsDropped: 0,
    /** Reads answered OVERLOADED unserved: the reads waiting for their index were at the bound. */
    readsWaitFull: 0,
    /** Reads waiting now for the applied index to reach theirs (a gauge). */
    readsWaiting: 0,
    timeouts: 0,
    snapshots: 0,
  };

  constructor(
    private readonly machine: StateMachinePort,
    private readonly snapshots: SnapshotStore,
    private readonly ports: ApplyPorts,
    private readonly options: ApplyOptions,
    private readonly log: Logger,
    appliedIndex: number,
  ) {
    this.appliedIndex = appliedIndex;
    this.clock = ports.clock ?? systemClock;
    this.waiters = new Waiters(options.waitersMax);
    this.snapshotJob = new SnapshotJob(machine, snapshots, ports, this.stats, log);
    const reads = { machine, respond: ports.respond, appliedIndex: () => this.appliedIndex };
    this.reads = new ReadServer(reads, this.stats, options.waitingReadsMax);
    this.stage = new Stage<ApplyItem>("apply", (batch) => this.handle(batch), {
      capacityItems: options.capacityItems,
      batch: { maxItems: options.batchItems },
      concurrency: 1,
      poolKind: options.pool,
      poolSize: 1,
      now: () => this.clock.elapsed(),
    });
    this.stage.on("error", (error) => {
      // A half-applied batch would leave this replica's state unlike the others': stop, and
      // let the restart replay the log from a consistent point.
      this.ports.fatal(error, {
        stage: "apply",
        message: "applying committed entries failed; stopping the node",
      });
    });
  }

  /** Load the session table, then start the timeout sweep. */
  async start(): Promise<void> {
    await this.machine.load();
    this.sweepTimer = this.clock.every(50, () => this.expire());
    this.ports.watches?.start();
  }

  /**
   * Shutting down: no new snapshots, and the one being written is abandoned, since writing a
   * big state can take longer than a stop may. Abandoning is safe: a snapshot counts only once
   * committed; until then the previous snapshot and the WAL hold the state, and the WAL
   * compaction it would have brought simply does not happen.
   */
  stop(): void {
    this.sweepTimer?.cancel();
    this.sweepTimer = null;
    this.ports.watches?.stop();
    this.snapshotJob.stop();
  }

  /** What a stop that overran its deadline was waiting for here. */
  pending(): { queued: number; applying: number; snapshotWriting: number | null } {
    return {
      queued: this.stage.depth,
      applying: this.stage.inflight,
      snapshotWriting: this.snapshotJob.writing,
    };
  }

  offer(item: ApplyItem): boolean {
    const accepted = this.stage.offer(item);
    if (accepted && item.kind === "wait") this.waitsQueued++;
    return accepted;
  }

  /** Room for `items` more write waiters: raft-step admits a write only then (requests.ts). */
  waitersRoom(items: number): boolean {
    return this.waiters.size + this.waitsQueued + items <= this.waiters.capacity;
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
          this.waitsQueued--;
          this.waiters.add(item.index, item);
          break;
        case "read":
          await this.reads.handle(item);
          break;
        case "committed":
          await this.applyEntries(item.entries);
          break;
        case "lease-due":
          item.resolve(await this.machine.leasesDue(item.query));
          break;
        case "watch":
        case "watch-closed":
          this.ports.watches?.handle(item, this.appliedIndex);
          break;
        case "restore":
          await this.restore(item.path, item.meta.index);
          this.ports.watches?.onRestore(item.meta.index);
          await this.reads.serveReady();
          this.log.info(
            { index: item.meta.index, term: item.meta.term },
            "state restored from an installed snapshot",
          );
          break;
      }
    }
    this.ports.raftStep.kick();
  }

  private isSnapshotPoint(entry: Entry): boolean {
    if (this.options.snapshotEvery > 0 && entry.index % this.options.snapshotEvery === 0)
      return true;
    return isSnapshotRequest(entry);
  }

  /** Apply in runs cut at session-expiry and snapshot points: both happen at exact log positions. */
  private async applyEntries(entries: readonly Entry[]): Promise<void> {
    let start = 0;
    for (let k = 0; k < entries.length; k++) {
      const entry = entries[k]!;
      const snapshotHere = this.isSnapshotPoint(entry);
      if (k < entries.length - 1 && !snapshotHere && !this.machine.isExpiryPoint(entry.index))
        continue;
      const run = entries.slice(start, k + 1);
      start = k + 1;
      const { answers, changes } = await this.machine.apply(run);
      this.appliedIndex = entry.index;
      this.ports.onChanges?.(changes, entry.index);
      this.stats.applied += run.length;
      this.ports.raftStep.onApplied(entry.index);
      // A snapshot request is answered with the snapshot's index once it is written; every
      // other entry now, so that writes never wait for a checkpoint.
      const request = snapshotHere && isSnapshotRequest(entry);
      for (const item of request ? run.slice(0, -1) : run)
        this.answerWaiter(item, answers.get(item.index));
      if (snapshotHere) {
        await this.snapshotJob.start(
          () => this.appliedIndex,
          (index) => {
            if (!request) return;
            // A snapshot at or past the request covers it (a newer installed one may have won).
            if (index >= entry.index && !answers.has(entry.index))
              answers.set(entry.index, { ok: true, result: { index } });
            else if (!answers.has(entry.index))
              answers.set(entry.index, {
                ok: false,
                error: {
                  code: ErrorCode.unavailable,
                  message: "no snapshot was taken (the node is shutting down); retry",
                },
              });
            this.answerWaiter(entry, answers.get(entry.index));
          },
        );
      }
    }
    await this.reads.serveReady();
  }

  private answerWaiter(entry: Entry, reply: ReplyBody | undefined): void {
    for (const waiter of this.waiters.take(entry.index)) {
      if (waiter.term !== entry.term || reply === undefined) {
        // Another leader's entry took this index: our proposal can never be applied.
        this.reply(waiter.target, {
          ok: false,
          error: {
            code: ErrorCode.unavailable,
            message: "leadership changed; the write was not applied",
          },
        });
        continue;
      }
      // A batched keep-alive takes its own lease's part of the entry's answer.
      this.reply(waiter.target, ownAnswer(reply, waiter.request));
    }
  }

  /**
   * Idle: nothing queued, nothing applying, no snapshot being written (a snapshot reads from
   * the engine: storage closes after it; after stop() it ends at its next chunk).
   */
  async settled(): Promise<void> {
    await this.stage.idle();
    await this.snapshotJob.settled();
  }

  /** Replace the whole state by the snapshot archive at `path`, taken at `index`. */
  async restore(path: string, index: number): Promise<void> {
    await this.snapshotJob.wait(); // It uses the same work dir, and an older state.
    const work = this.snapshots.workDir();
    await unpackArchive(path, work);
    await this.machine.restore(work, index);
    await rm(work, { recursive: true, force: true });
    this.appliedIndex = index;
    this.snapshotJob.restored(index);
  }

  private expire(): void {
    const now = this.clock.now();
    for (const waiter of this.waiters.expire(now)) {
      this.stats.timeouts++;
      this.reply(waiter.target, {
        ok: false,
        error: {
          code: ErrorCode.timeout,
          message: "not applied in time; the write may or may not be applied later",
        },
      });
    }
    this.reads.expire(now);
  }

  private reply(target: ReplyTarget, body: ReplyBody): void {
    this.stats.answered++;
    this.ports.respond.reply({ target, body });
  }
}

function isSnapshotRequest(entry: Entry): boolean {
  return (
    entry.type === EntryType.normal &&
    entry.data.length > 0 &&
    decodeCommand(entry.data).snapshot === true
  );
}
