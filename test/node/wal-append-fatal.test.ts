import { afterEach, describe, expect, it, vi } from "vitest";
import type { Ready } from "../../raft/types.js";
import type { FatalContext } from "../../stages/items.js";
import { WalAppendStage } from "../../stages/wal-append/wal-append.js";
import { SegmentWal } from "../../storage/segment-wal.js";
import type { SnapshotStore } from "../../storage/snapshot-store.js";
import { chain, TempDirs } from "../storage/helpers.js";

const dirs = new TempDirs();

afterEach(async () => {
  vi.restoreAllMocks();
  await dirs.removeAll();
});

function ready(entries: Ready["entries"]): Ready {
  return {
    softState: null,
    hardState: { term: 1, vote: "n1", commit: 0 },
    entries,
    snapshot: null,
    snapshotChunks: [],
    messages: [],
    persistedMessages: [],
    committed: [],
    readStates: [],
  };
}

describe("wal-append on the segment WAL - a write the disk rejects", () => {
  it.each([
    ["ENOSPC", "write"],
    ["EIO", "datasync"],
  ] as const)(
    "wal-append - %s from the segment file's %s goes to the one fatal path, nothing acknowledged",
    async (code, call) => {
      const wal = await SegmentWal.open(await dirs.make("seg"));
      await wal.load();
      const entries = chain({ index: 0, chk: 0 }, [1, 1, 1]);
      await wal.write([{ hardState: null, snapshot: null, entries: entries.slice(0, 1) }]);
      const file = (wal as unknown as { file: import("node:fs/promises").FileHandle }).file;
      const error = Object.assign(new Error(`${code}: injected`), { code });
      vi.spyOn(file, call).mockRejectedValue(error);
      const persisted: Ready[] = [];
      const fatal = vi.fn<(error: unknown, context: FatalContext) => never>();
      const stage = new WalAppendStage(
        wal,
        {} as SnapshotStore,
        {
          raftStep: {
            offer: () => true,
            onPersisted: (r) => persisted.push(r),
            onApplied: () => {},
            compact: () => Promise.reject(new Error("unused")),
            kick: () => {},
          },
          apply: { offer: () => true, hasRoom: () => true },
          fatal: fatal as unknown as (error: unknown, context: FatalContext) => never,
        },
        { capacityItems: 8, batchItems: 8 },
      );
      expect(stage.offer({ kind: "ready", ready: ready(entries.slice(1)) })).toBe(true);
      await vi.waitFor(() => expect(fatal).toHaveBeenCalledTimes(1));
      expect(fatal.mock.calls[0]![0]).toBe(error);
      expect(fatal.mock.calls[0]![1]).toMatchObject({ stage: "wal-append" });
      expect(persisted).toEqual([]);
      vi.restoreAllMocks();
      await wal.close();
    },
  );
});
