import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { EntryType, RaftLog, type SnapshotMeta } from "../../raft/mod.js";
import { reconcileWal } from "../../src/node-storage.js";
import { SegmentWal } from "../../storage/segment-wal.js";
import { Wal } from "../../storage/wal.js";

const engines = [
  { engine: "level", open: (dir: string) => Wal.open(dir) },
  { engine: "segments", open: (dir: string) => SegmentWal.open(dir) },
] as const;

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

function history(count: number) {
  const log = new RaftLog();
  for (let k = 1; k <= count; k++)
    log.appendNew(1, EntryType.normal, new TextEncoder().encode(`e${k}`));
  return log;
}

describe.each(engines)(
  "node - WAL reconciled with a newer snapshot at start ($engine WAL)",
  ({ open }) => {
    it("reconcile - a snapshot installed just before a crash is recorded, and the WAL never holds a gap", async () => {
      const dir = await mkdtemp(join(tmpdir(), "stageraft-reconcile-"));
      dirs.push(dir);
      // The WAL holds entries 1..5; the snapshot store already has a snapshot at 8 (from the
      // leader) that the WAL never recorded: the crash fell between the two writes.
      const leader = history(10);
      let wal = await open(dir);
      await wal.load();
      await wal.write([
        {
          hardState: { term: 1, vote: null, commit: 5 },
          snapshot: null,
          entries: leader.slice(1, 5),
        },
      ]);
      const latest: SnapshotMeta = {
        index: 8,
        term: 1,
        chk: leader.chk(8)!,
        config: { voters: ["a"], outgoing: [], learners: [] },
        size: 0,
      };
      const contents = await wal.load();
      const kept = await reconcileWal(
        wal,
        latest,
        contents.snapshot,
        contents.entries,
        pino({ level: "silent" }),
      );
      expect(kept).toEqual([]);
      // New entries after the snapshot, then a restart: the chain must load clean.
      await wal.write([{ hardState: null, snapshot: null, entries: leader.slice(9, 10) }]);
      await wal.close();
      wal = await open(dir);
      const reloaded = await wal.load();
      expect(reloaded.snapshot?.index).toBe(8);
      expect(reloaded.entries.map((e) => e.index)).toEqual([9, 10]);
      expect(reloaded.truncatedTail).toBe(0);
      await wal.close();
    });

    it("reconcile - after a local snapshot the entries that follow it are kept", async () => {
      const dir = await mkdtemp(join(tmpdir(), "stageraft-reconcile-"));
      dirs.push(dir);
      const log = history(12);
      const wal = await open(dir);
      await wal.load();
      await wal.write([
        {
          hardState: { term: 1, vote: null, commit: 12 },
          snapshot: null,
          entries: log.slice(1, 12),
        },
      ]);
      const latest: SnapshotMeta = {
        index: 6,
        term: 1,
        chk: log.chk(6)!,
        config: { voters: ["a"], outgoing: [], learners: [] },
        size: 0,
      };
      const contents = await wal.load();
      const kept = await reconcileWal(
        wal,
        latest,
        contents.snapshot,
        contents.entries,
        pino({ level: "silent" }),
      );
      expect(kept.map((e) => e.index)).toEqual([7, 8, 9, 10, 11, 12]);
      const reloaded = await wal.load();
      expect(reloaded.snapshot?.index).toBe(6);
      expect(reloaded.entries.map((e) => e.index)).toEqual([7, 8, 9, 10, 11, 12]);
      await wal.close();
    });
  },
);
