import { rm } from "node:fs/promises";
import type { Logger } from "pino";
import { packDirectory } from "../../storage/archive.js";
import type { SnapshotStore } from "../../storage/snapshot-store.js";
import type { Fatal, QueuePort, RaftStepPort, WalItem } from "../items.js";
import type { StateMachinePort } from "./state-machine.js";

export interface SnapshotJobPorts {
  readonly raftStep: Pick<RaftStepPort, "compact">;
  readonly wal: QueuePort<WalItem>;
  readonly fatal: Fatal;
}

/** The state the job pins and archives: the state machine's checkpoint methods. */
export type Checkpointing = Pick<
  StateMachinePort,
  "beginCheckpoint" | "finishCheckpoint" | "abortCheckpoint"
>;

/**
 * apply's background snapshot: the state is pinned at the applied index in line, then
 * written, archived, committed and compacted (core, then WAL) while later entries apply. One
 * at a time; stop() abandons the one being written.
 */
export class SnapshotJob {
  /** The snapshot being written in the background, if any, and its index. */
  private job: Promise<void> | null = null;
  private indexWriting = 0;
  private lastSnapshotIndex: number;
  /** Aborted by stop(): no new snapshot, and the one being written is abandoned. */
  private readonly stopping = new AbortController();

  constructor(
    private readonly machine: Checkpointing,
    private readonly snapshots: SnapshotStore,
    private readonly ports: SnapshotJobPorts,
    /** apply's counters (the same object): `snapshots` counts those committed. */
    private readonly stats: { snapshots: number },
    private readonly log: Logger,
  ) {
    this.lastSnapshotIndex = snapshots.latest()?.index ?? 0;
  }

  /** The index of the snapshot being written, or null. */
  get writing(): number | null {
    return this.job === null ? null : this.indexWriting;
  }

  /** No new snapshots; the one being written is abandoned at its next chunk. */
  stop(): void {
    this.stopping.abort();
    this.machine.abortCheckpoint().catch(() => {}); // A worker already gone has nothing to abort.
  }

  /** The job out, if any, has ended (a restore uses the same work dir, and an older state). */
  async wait(): Promise<void> {
    await this.job;
  }

  /** No job out, nor one started while waiting. */
  async settled(): Promise<void> {
    while (this.job !== null) await this.job;
  }

  /** An installed snapshot replaced the state at `index`. */
  restored(index: number): void {
    this.lastSnapshotIndex = index;
  }

  /**
   * Pin the state at the applied index, then write, archive and compact in the background
   * while later entries apply: a snapshot costs the apply stage only the pinning (and the
   * vector indexes, written at this exact position). One at a time: a second waits for the
   * first. `done` gets the index of the snapshot that covers the applied index.
   */
  async start(appliedIndex: () => number, done: (index: number) => void): Promise<void> {
    await this.job;
    const index = appliedIndex();
    if (index <= this.lastSnapshotIndex || this.stopping.signal.aborted) {
      done(this.lastSnapshotIndex);
      return;
    }
    const work = this.snapshots.workDir();
    await rm(work, { recursive: true, force: true });
    if (!(await this.machine.beginCheckpoint(work, index))) {
      // Replaying past a snapshot point the engine had already passed: no exact state to take
      // here; the next point (or a restart's replay) takes one.
      this.log.info({ index }, "snapshot point skipped: the KV engine is already past it");
      await rm(work, { recursive: true, force: true });
      done(this.lastSnapshotIndex);
      return;
    }
    // A stop() while the state was being pinned found no checkpoint to abort yet.
    if (this.stopping.signal.aborted) await this.machine.abortCheckpoint();
    this.indexWriting = index;
    this.job = this.finish(index, work)
      .catch((error: unknown) => this.abandon(error, index, work))
      .then(done)
      .catch((error: unknown) => {
        this.ports.fatal(error, {
          stage: "apply",
          message: "taking a snapshot failed; stopping the node",
          index,
        });
      })
      .finally(() => {
        this.job = null;
      });
  }

  /** Archive the checkpoint, compact the core, then the WAL; returns the snapshot's index. */
  private async finish(index: number, work: string): Promise<number> {
    const stopping = this.stopping.signal;
    await this.machine.finishCheckpoint();
    const size = await packDirectory(work, this.snapshots.tempPath(), stopping);
    await rm(work, { recursive: true, force: true });
    stopping.throwIfAborted();
    const { meta, retainFrom } = await this.ports.raftStep.compact(index, size);
    // The core's compaction is in memory only: a stopping node forgets it.
    stopping.throwIfAborted();
    if (meta.index !== index) {
      // An InstallSnapshot of a newer state won the race: ours is obsolete, keep theirs
      // (which covers this index too).
      await rm(this.snapshots.tempPath(), { force: true });
      return Math.max(meta.index, this.lastSnapshotIndex);
    }
    await this.snapshots.commit(meta);
    this.lastSnapshotIndex = index;
    this.stats.snapshots++;
    this.log.debug({ index, bytes: size }, "snapshot written");
    if (!this.ports.wal.offer({ kind: "compact", meta, upTo: retainFrom - 1 })) {
      this.log.warn({ index }, "wal-append is full; the log is compacted at the next snapshot");
    }
    return index;
  }

  /**
   * A snapshot job failed: stop() abandoned it (nothing was committed, so discard its files and
   * report the last snapshot), or it really failed (rethrown: fatal).
   */
  private async abandon(error: unknown, index: number, work: string): Promise<number> {
    if (!this.stopping.signal.aborted) throw error;
    this.log.info({ index }, "snapshot abandoned: the node is stopping");
    await rm(work, { recursive: true, force: true }).catch(() => {});
    await rm(this.snapshots.tempPath(), { force: true }).catch(() => {});
    return this.lastSnapshotIndex;
  }
}
