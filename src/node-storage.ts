import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { chainChecksum } from "../raft/checksum.js";
import type { Entry, SnapshotMeta } from "../raft/mod.js";
import {
  logHasVectors,
  type StateMachineOptions,
  type StateMachinePort,
} from "../stages/apply/mod.js";
import type { LogStore } from "../storage/log-store.js";
import { SnapshotStore } from "../storage/snapshot-store.js";
import { type WalContents, WalCorruptError } from "../storage/wal.js";
import { type OpenedLogStore, openLogStore } from "../storage/wal-open.js";
import type { NodeConfig } from "./config.js";
import { openCheckedState } from "./open-state.js";

export class StartupError extends Error {
  override readonly name = "StartupError";
}

/** What a node starts from: its storage opened, checked and reconciled. */
export interface OpenedStorage {
  readonly snapshots: SnapshotStore;
  readonly latest: SnapshotMeta | null;
  readonly wal: OpenedLogStore;
  readonly contents: WalContents;
  /** The WAL's entries after the latest snapshot. */
  readonly entries: Entry[];
  readonly machine: StateMachinePort;
  readonly applied: number;
  readonly lastIndex: number;
  /** An index this node once applied (so held durably) that its WAL no longer has; or 0. */
  readonly lostTo: number;
}

/**
 * Open the data dir: snapshots, the WAL (a corrupt middle refuses to start, a torn tail is cut),
 * the state machine (a damaged engine is rebuilt, or the start refused naming the file).
 */
export async function openStorage(config: NodeConfig, log: Logger): Promise<OpenedStorage> {
  try {
    await mkdir(config.dataDir, { recursive: true });
  } catch (error) {
    throw new StartupError(`cannot use data dir ${config.dataDir}: ${(error as Error).message}`);
  }
  const snapshots = new SnapshotStore(join(config.dataDir, "snap"));
  const latest = await snapshots.open();
  const wal = await openLogStore(config.dataDir, config.wal).catch((error: Error) => {
    if (error instanceof WalCorruptError) throw new StartupError(error.message);
    throw new StartupError(
      `cannot open the WAL in ${config.dataDir} (is another node using it?): ${error.message}`,
    );
  });
  const contents = await wal.load().catch(async (error: Error) => {
    await wal.close();
    throw error instanceof WalCorruptError ? new StartupError(error.message) : error;
  });
  if (contents.truncatedTail > 0)
    log.warn({ entries: contents.truncatedTail }, "cut a torn WAL tail (never acknowledged)");
  const entries = await reconcileWal(wal, latest, contents.snapshot, contents.entries, log);
  const stateMachineOptions: StateMachineOptions = {
    kvEngine: config.engines.kv,
    dataDir: config.dataDir,
    vectors: {
      defaultEngine: config.engines.vector,
      hnsw: {
        m: config.engines.hnsw.m,
        efConstruction: config.engines.hnsw.efConstruction,
        efSearch: config.engines.hnsw.efSearch,
      },
    },
    sessions: config.sessions,
    history: config.history,
  };
  const vectorsInLog = logHasVectors(entries);
  const opened = await openCheckedState(
    config,
    stateMachineOptions,
    snapshots,
    latest,
    entries,
    vectorsInLog,
    log,
  );
  if (!opened.ok) {
    await wal.close();
    throw new StartupError(opened.message);
  }
  const lastIndex = entries.at(-1)?.index ?? latest?.index ?? 0;
  return {
    snapshots,
    latest,
    wal,
    contents,
    entries,
    machine: opened.machine,
    applied: opened.applied,
    lastIndex,
    lostTo: opened.lostTo,
  };
}

/**
 * The snapshot store may be ahead of the WAL: a snapshot was put in place (installed from the
 * leader, or taken here) and the process stopped before the WAL recorded it. Record it now and
 * keep only the entries that follow it in the chain, so that the WAL never holds a gap.
 */
export async function reconcileWal(
  wal: LogStore,
  latest: SnapshotMeta | null,
  walSnapshot: SnapshotMeta | null,
  entries: Entry[],
  log: Logger,
): Promise<Entry[]> {
  if (latest === null || latest.index <= (walSnapshot?.index ?? 0)) return entries;
  const kept: Entry[] = [];
  let previous = { index: latest.index, chk: latest.chk };
  for (const entry of entries) {
    if (entry.index <= latest.index) continue;
    const linked =
      entry.index === previous.index + 1 &&
      chainChecksum(previous.chk, entry.term, entry.index, entry.type, entry.data) === entry.chk;
    if (!linked) break;
    kept.push(entry);
    previous = { index: entry.index, chk: entry.chk };
  }
  await wal.write([{ hardState: null, snapshot: latest, entries: kept }]);
  log.warn(
    { index: latest.index, kept: kept.length },
    "the WAL lagged the latest snapshot; recorded it",
  );
  return kept;
}
