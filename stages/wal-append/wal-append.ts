import { type Clock, Stage, type StageSnapshot, sleep, systemClock } from "../../queues/mod.js";
import type { Ready } from "../../raft/types.js";
import type { LogStore } from "../../storage/log-store.js";
import type { SnapshotStore } from "../../storage/snapshot-store.js";
import type { WalWrite } from "../../storage/wal.js";
import type { ApplyItem, Fatal, QueuePort, RaftStepPort, WalItem } from "../items.js";

export interface WalAppendOptions {
  readonly capacityItems: number;
  /** Readys per group commit: one synced LevelDB batch however many proposals they hold. */
  readonly batchItems: number;
}

export interface WalAppendPorts {
  readonly raftStep: RaftStepPort;
  readonly apply: QueuePort<ApplyItem>;
  /** A write failed: stop the node (src/node.ts; exit 70). */
  readonly fatal: Fatal;
  /** Default: the process's clock; remu's virtual one in simulation. */
  readonly clock?: Clock;
}

/**
 * Stage 3: makes Readys durable. A drained batch of Readys becomes one synced LevelDB write
 * (group commit); InstallSnapshot chunks go to the snapshot store first (synced, since their
 * acks promise durability). Then each Ready is acknowledged to raft-step, in order.
 */
export class WalAppendStage {
  readonly stage: Stage<WalItem>;
  stats = { groupCommits: 0, readies: 0, entries: 0 };
  private readonly clock: Clock;

  constructor(
    private readonly wal: LogStore,
    private readonly snapshots: SnapshotStore,
    private readonly ports: WalAppendPorts,
    options: WalAppendOptions,
  ) {
    this.clock = ports.clock ?? systemClock;
    this.stage = new Stage<WalItem>("wal-append", (batch) => this.handle(batch), {
      capacityItems: options.capacityItems,
      batch: { maxItems: options.batchItems },
      concurrency: 1,
      now: () => this.clock.elapsed(),
    });
    this.stage.on("error", (error) => {
      // A WAL that cannot write (full disk, I/O error) must not ack anything: stop the node.
      this.ports.fatal(error, {
        stage: "wal-append",
        message: "the WAL could not be written; stopping so that nothing unsynced is acknowledged",
      });
    });
  }

  offer(item: WalItem): boolean {
    return this.stage.offer(item);
  }

  hasRoom(items: number, bytes: number): boolean {
    return this.stage.hasRoom(items, bytes);
  }

  snapshot(): StageSnapshot {
    return this.stage.snapshot();
  }

  private async handle(batch: WalItem[]): Promise<void> {
    const writes: WalWrite[] = [];
    const readies = [];
    const installed = new Map<Ready, string>();
    for (const item of batch) {
      if (item.kind === "compact") {
        await this.wal.compact(item.meta, item.upTo);
        continue;
      }
      const { ready } = item;
      for (const chunk of ready.snapshotChunks)
        await this.snapshots.writeChunk(chunk.offset, chunk.data);
      // The snapshot file is in place before the WAL records it: a crash between the two
      // leaves an installed snapshot and the old log, which is consistent.
      if (ready.snapshot !== null)
        installed.set(ready, await this.snapshots.installIncoming(ready.snapshot));
      else if (ready.snapshotChunks.at(-1)?.done) await this.snapshots.discardIncoming();
      writes.push({ hardState: ready.hardState, snapshot: ready.snapshot, entries: ready.entries });
      readies.push(ready);
    }
    if (writes.length > 0) await this.wal.write(writes);
    this.stats.groupCommits++;
    for (const ready of readies) {
      this.stats.readies++;
      this.stats.entries += ready.entries.length;
      const path = installed.get(ready);
      if (ready.snapshot !== null && path !== undefined) {
        // Rare: wait for room rather than drop the restore (apply drains on its own).
        while (!this.ports.apply.offer({ kind: "restore", meta: ready.snapshot, path })) {
          await sleep(this.clock, 1);
        }
      }
      this.ports.raftStep.onPersisted(ready);
    }
  }
}
