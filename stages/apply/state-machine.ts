import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { type Clock, systemClock } from "../../queues/clock.js";
import { type Entry, EntryType, type SnapshotMeta } from "../../raft/types.js";
import { unpackArchive } from "../../storage/archive.js";
import type { KeySpan, KvCommand, KvEngine, KvResult } from "../../storage/engines/engine.js";
import { writeKvCheckpoint } from "../../storage/engines/kv-checkpoint.js";
import { type KvEngineName, kvEngines } from "../../storage/engines/registry.js";
import type { HistorySettings } from "../../storage/engines/revision-store.js";
import type { HistoryPort, HistoryRead, KvChanges } from "../../storage/engines/revisions.js";
import { VectorStore, type VectorStoreSettings } from "../../storage/engines/vector-store.js";
import type { SnapshotStore } from "../../storage/snapshot-store.js";
import type { ReplyBody } from "../items.js";
import { type ClientRequest, ErrorCode } from "../protocol.js";
import { decodeCommand, type LogCommand, userSpan } from "./commands.js";
import { fail, kvReply, readReply } from "./kv-replies.js";
import { deleteAll, endsLeases, readLeases, stepLeases } from "./lease-apply.js";
import type { LeaseJudge } from "./lease-commands.js";
import { LEASE_PREFIX, LeaseTable } from "./leases.js";
import { newRunPlan, type RunPlan } from "./run-plan.js";
import { SESSION_PREFIXES, type SessionSettings, SessionTable } from "./sessions.js";
import { isVectorRead, readVectorWhenReady, vectorReply } from "./vector-commands.js";

/** What a run of entries did: the answers by entry index, and the KV changes in log order. */
export interface Applied {
  readonly answers: Map<number, ReplyBody>;
  /** One KvChanges per entry that changed keys (a replayed entry has none). */
  readonly changes: readonly KvChanges[];
}

/** What the apply stage needs of a state machine, in this thread or in a worker thread. */
export interface StateMachinePort extends HistoryPort {
  load(): Promise<void>;
  apply(entries: readonly Entry[]): Promise<Applied>;
  read(request: ClientRequest, appliedIndex: number): Promise<ReplyBody>;
  /**
   * Pin the whole state as of `index` and start writing it into `dir`; resolves once pinned,
   * so that applying may go on while finishCheckpoint() writes. Resolves false, writing
   * nothing, when the state cannot be pinned at `index` (a durable KV engine already past it).
   */
  beginCheckpoint(dir: string, index: number): Promise<boolean>;
  /** Resolves when the checkpoint begun last is written and synced (rejects if it failed). */
  finishCheckpoint(): Promise<void>;
  /** Stopping: give up the checkpoint being written; finishCheckpoint() rejects soon after. */
  abortCheckpoint(): Promise<void>;
  restore(dir: string, index: number): Promise<void>;
  /** Session expiry happens at this entry (a pure function of the settings). */
  isExpiryPoint(index: number): boolean;
  /** Leases past their deadline at `now` for the leader of `term` (raft-step's lease expiry). */
  leasesDue(judge: LeaseJudge): Promise<string[]>;
  close(): Promise<void>;
}

export interface StateMachineOptions {
  readonly kvEngine: KvEngineName;
  readonly dataDir: string;
  readonly vectors: VectorStoreSettings;
  readonly sessions: SessionSettings;
  /** How much history the KV engine keeps (config `history`); the default when absent. */
  readonly history?: HistorySettings;
}

/**
 * The replicated state machine behind the apply stage: the KV engine, the vector store and the
 * session table, changed only by committed entries in log order. Everything here is
 * deterministic: replicas given the same entries reach the same state and the same answers.
 */
export class StateMachine implements StateMachinePort {
  readonly sessions: SessionTable;
  readonly leases = new LeaseTable();
  /** The KV checkpoint being written: settles to null, or to the error it failed with. */
  private checkpointWriting: Promise<unknown> | null = null;
  private checkpointAbort: AbortController | null = null;

  constructor(
    readonly kv: KvEngine,
    readonly vectors: VectorStore,
    sessionSettings: SessionSettings,
    /** lease-ttl's remaining time is read on it (a worker thread gets the system clock). */
    private readonly clock: Pick<Clock, "now"> = systemClock,
  ) {
    this.sessions = new SessionTable(sessionSettings);
  }

  isExpiryPoint(index: number): boolean {
    return this.sessions.shouldExpireAt(index);
  }

  async close(): Promise<void> {
    await this.kv.close();
  }

  /** Load the session and lease tables the KV engine holds (at start, and after a restore). */
  async load(): Promise<void> {
    const sessionRecords = await Promise.all(
      SESSION_PREFIXES.map((prefix) => this.kv.scan({ prefix, limit: Number.MAX_SAFE_INTEGER })),
    );
    this.sessions.load(sessionRecords.flat());
    this.leases.load(await this.kv.scan({ prefix: LEASE_PREFIX, limit: Number.MAX_SAFE_INTEGER }));
  }

  async leasesDue(judge: LeaseJudge): Promise<string[]> {
    return this.leases.due(judge);
  }

  /**
   * Apply a run of entries; returns the answer for every entry that produced one. A session
   * write already answered is not applied again: its first answer is returned. Session expiry
   * runs when the last entry's index is an expiry point, so the caller cuts runs there.
   * An entry that ends leases starts a batch of its own: it deletes the keys attached by the
   * entries before it, known once they are applied (a txn's puts attach only if its branch ran).
   */
  async apply(entries: readonly Entry[]): Promise<Applied> {
    const commands = entries.map((entry) =>
      entry.type === EntryType.normal && entry.data.length > 0 ? decodeCommand(entry.data) : null,
    );
    const answers = new Map<number, ReplyBody>();
    const changes: KvChanges[] = [];
    let start = 0;
    for (let k = 1; k <= entries.length; k++) {
      if (k < entries.length && !endsLeases(commands[k]!)) continue;
      const run = await this.applyRun(entries.slice(start, k), commands.slice(start, k));
      for (const [index, answer] of run.answers) answers.set(index, answer);
      changes.push(...run.changes);
      start = k;
    }
    return { answers, changes };
  }

  private async applyRun(
    entries: readonly Entry[],
    commands: readonly (LogCommand | null)[],
  ): Promise<Applied> {
    const plan = newRunPlan();
    const last = entries.at(-1)!;
    let expireTs: number | null = null;
    for (const [k, entry] of entries.entries()) {
      const command = commands[k]!;
      if (command === null) continue;
      if (entry === last && this.sessions.shouldExpireAt(entry.index)) expireTs = command.ts;
      if (command.snapshot) continue; // the apply stage snapshots after this run
      if (this.sessionAnswered(plan, entry, command)) continue;
      const leased = stepLeases(this.leases, command, entry, entry.index <= this.kv.appliedIndex);
      plan.leaseWrites.push(...leased.writes);
      // One command for all of a lease's keys: one revision, one KvChanges, for the entry.
      if (leased.deletes.length > 0)
        plan.kvCommands.push({
          index: entry.index,
          command: deleteAll(leased.deletes),
          internal: true,
        });
      if (leased.answer !== undefined) plan.answers.set(entry.index, leased.answer);
      else if (command.kv !== undefined)
        plan.kvCommands.push({ index: entry.index, command: command.kv });
      else if (command.vec !== undefined && entry.index > this.vectors.appliedIndex) {
        const applied = await this.vectors.applyYielding(command.vec);
        plan.answers.set(entry.index, vectorReply(applied, entry.index));
      }
    }
    const { answers, kvCommands } = plan;
    const sidecar = (results: readonly KvResult[], applied: readonly KvChanges[]) =>
      this.sidecarWrites(plan, results, applied, expireTs);
    const results = await this.kv.applyBatch(kvCommands, last.index, sidecar);
    // A replayed run (already applied by the engine) does not call the sidecar: answer anyway.
    answerKv(answers, kvCommands, results);
    for (const [index, first] of plan.sameAs) answers.set(index, answers.get(first)!);
    this.vectors.appliedIndex = Math.max(this.vectors.appliedIndex, last.index);
    return { answers, changes: plan.changes };
  }

  /**
   * A session write already answered (kept in the session table, or earlier in this run) is
   * answered as before and not applied again; a new one is recorded once its answer is known.
   */
  private sessionAnswered(plan: RunPlan, entry: Entry, command: LogCommand): boolean {
    // An entry the KV engine already applied (a replay after a restart) must not touch the
    // session table: it already holds that entry's effect, including later expiries.
    const session = entry.index <= this.kv.appliedIndex ? undefined : command.session;
    if (session === undefined) return false;
    const prior = this.sessions.lookup(session.id, session.seq);
    if (prior !== null) {
      plan.answers.set(
        entry.index,
        prior === "evicted"
          ? fail(
              ErrorCode.badRequest,
              `seq ${session.seq} is older than the answers kept for session ${session.id}`,
            )
          : prior,
      );
      return true;
    }
    const key = `${session.id}\u0000${session.seq}`;
    const first = plan.firstInRun.get(key);
    if (first !== undefined) {
      plan.sameAs.set(entry.index, first);
      return true;
    }
    plan.firstInRun.set(key, entry.index);
    plan.toRecord.push({ ...session, ts: command.ts, index: entry.index });
    return false;
  }

  /** The writes beside the run's KV batch (leases, sessions), in the engine's one batch. */
  private sidecarWrites(
    plan: RunPlan,
    results: readonly KvResult[],
    applied: readonly KvChanges[],
    expireTs: number | null,
  ): { key: string; value: string | null }[] {
    plan.changes = applied;
    answerKv(plan.answers, plan.kvCommands, results);
    // Keys follow their leases as the changes say (a txn's puts count only if its branch ran).
    const writes = [...plan.leaseWrites, ...this.leases.follow(applied)];
    for (const session of plan.toRecord) {
      const answer = plan.answers.get(session.index);
      if (answer !== undefined)
        writes.push(...this.sessions.record(session.id, session.seq, answer, session.ts));
    }
    if (expireTs !== null) writes.push(...this.sessions.expire(expireTs));
    return writes;
  }

  history(fromRevision: number, range: KeySpan, limit: number): Promise<HistoryRead> {
    return this.kv.history(fromRevision, userSpan(range), limit);
  }

  async read(request: ClientRequest, appliedIndex: number): Promise<ReplyBody> {
    switch (request.op) {
      case "lease-ttl":
      case "lease-list":
        return readLeases(this.leases, request, this.clock.now());
      case "get":
        return readReply(await this.kv.read(request), appliedIndex, request);
      case "scan": {
        const { prefix, start, end, consistency: _, op, ...options } = request;
        const range = userSpan({
          ...(prefix !== undefined ? { prefix } : {}),
          ...(start !== undefined ? { start } : {}),
          ...(end !== undefined ? { end } : {}),
        });
        return readReply(await this.kv.read({ op, range, ...options }), appliedIndex, request);
      }
      default:
        if (isVectorRead(request)) return readVectorWhenReady(this.vectors, request, appliedIndex);
        return fail(ErrorCode.badRequest, `"${request.op}" is not a read`);
    }
  }

  /**
   * The KV engine pins its state when checkpoint() is called and writes it in the background;
   * so does the vector store, at this exact log position (replicas reload the hnsw indexes from
   * the file, so they must all do it at the same entry). The caller archives `dir` afterwards.
   */
  async beginCheckpoint(dir: string, index: number): Promise<boolean> {
    if (this.checkpointWriting !== null) throw new Error("a checkpoint is already being written");
    // Replaying after a crash, a durable KV engine may hold writes past `index` (applied
    // after a snapshot point whose snapshot never landed): its state is not the one at index.
    if (this.kv.appliedIndex !== index) {
      // Vector indexes must reload at the same entries on every replica: with vectors the KV
      // engine is rolled back at start (openStateMachine), so this cannot happen; if it did,
      // skipping would let this replica's indexes drift from the others'.
      if (this.vectors.collectionCount > 0)
        throw new Error(
          `cannot snapshot at ${index}: the KV engine is at ${this.kv.appliedIndex} while vector collections exist`,
        );
      return false;
    }
    await mkdir(dir, { recursive: true });
    this.checkpointAbort = new AbortController();
    const kvWritten = this.kv.checkpoint(join(dir, "kv.ckpt"), this.checkpointAbort.signal);
    kvWritten.catch(() => {}); // observed below (or the vector store's failure is the error)
    // Vector indexes are pinned here and written in the background (VectorStore.beginCheckpoint).
    const { written: vectorsWritten } = await this.vectors.beginCheckpoint(join(dir, "vectors"));
    // Observed here and rethrown by finishCheckpoint(): never an unhandled rejection.
    this.checkpointWriting = Promise.all([kvWritten, vectorsWritten]).then(
      () => null,
      (error: unknown) => error,
    );
    return true;
  }

  async finishCheckpoint(): Promise<void> {
    const writing = this.checkpointWriting;
    if (writing === null) throw new Error("no checkpoint was begun");
    const error = await writing;
    this.checkpointWriting = null;
    this.checkpointAbort = null;
    if (error !== null) throw error;
  }

  async abortCheckpoint(): Promise<void> {
    this.checkpointAbort?.abort();
  }

  async restore(dir: string, index: number): Promise<void> {
    await this.kv.restore(join(dir, "kv.ckpt"), index);
    await this.vectors.restore(join(dir, "vectors"), index);
    await this.load();
  }
}

/**
 * Open the engines and bring the state machine to a consistent point before the log replays
 * onto it. Vectors live in memory: they come back from the latest snapshot. The KV engine may
 * be ahead of it (LevelDB keeps its state); it is rolled back to the snapshot whenever vectors
 * are in play, so that the session table and every engine replay the same entries — and when
 * it is ahead of the log's last index (the WAL lost synced entries: the leader sends them
 * again, and they must apply again). `kvAhead` is then the index it had reached.
 */
export async function openStateMachine(
  options: StateMachineOptions,
  snapshots: SnapshotStore,
  latest: SnapshotMeta | null,
  vectorsInLog: boolean,
  logLastIndex: number,
): Promise<{
  machine: StateMachine;
  applied: number;
  kvApplied: number;
  kvRebuild: string | null;
  kvAhead: number;
}> {
  const kv = kvEngines[options.kvEngine](options.dataDir, options.history);
  await kv.open();
  const vectors = new VectorStore(options.vectors);
  const machine = new StateMachine(kv, vectors, options.sessions);
  const work = snapshots.workDir();
  const kvAhead = kv.appliedIndex > logLastIndex ? kv.appliedIndex : 0;
  if (latest !== null) {
    await unpackArchive(snapshots.dataPath(latest.index), work);
    await vectors.restore(join(work, "vectors"), latest.index);
    if (
      kv.appliedIndex < latest.index ||
      vectors.collectionCount > 0 ||
      vectorsInLog ||
      kvAhead > 0
    ) {
      await kv.restore(join(work, "kv.ckpt"), latest.index);
    }
    await rm(work, { recursive: true, force: true });
  } else if ((vectorsInLog || kvAhead > 0) && kv.appliedIndex > 0) {
    await mkdir(work, { recursive: true });
    await writeKvCheckpoint(join(work, "empty.ckpt"), []);
    await kv.restore(join(work, "empty.ckpt"), 0);
    await rm(work, { recursive: true, force: true });
  }
  return {
    machine,
    applied: Math.min(kv.appliedIndex, vectors.appliedIndex),
    kvApplied: kv.appliedIndex,
    kvRebuild: kv.rebuild ?? null,
    kvAhead,
  };
}

/** Does the log hold vector commands (then the state machine starts from the snapshot)? */
export function logHasVectors(entries: readonly Entry[]): boolean {
  return entries.some(
    (entry) =>
      entry.type === EntryType.normal &&
      entry.data.length > 0 &&
      decodeCommand(entry.data).vec !== undefined,
  );
}

function answerKv(
  answers: Map<number, ReplyBody>,
  commands: readonly { index: number; command: KvCommand; internal?: true }[],
  results: readonly KvResult[],
): void {
  for (const [k, { index, command, internal }] of commands.entries())
    if (!internal) answers.set(index, kvReply(results[k]!, index, command));
}
