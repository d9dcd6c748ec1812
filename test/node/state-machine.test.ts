import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { type Entry, EntryType } from "../../raft/types.js";
import { encodeCommand, type LogCommand } from "../../stages/apply/commands.js";
import {
  openStateMachine,
  type StateMachine,
  type StateMachineOptions,
} from "../../stages/apply/state-machine.js";
import { SnapshotStore } from "../../storage/snapshot-store.js";
import { TempDirs } from "../storage/helpers.js";

const dirs = new TempDirs();
const machines: StateMachine[] = [];

afterEach(async () => {
  for (const machine of machines.splice(0)) await machine.close();
  await dirs.removeAll();
});

function options(dataDir: string): StateMachineOptions {
  return {
    kvEngine: "level",
    dataDir,
    vectors: { defaultEngine: "flat", hnsw: { m: 16, efConstruction: 200, efSearch: 50 } },
    sessions: { ttlMs: 3_600_000, window: 256, maxSessions: 1_000, expireEvery: 1_024 },
  };
}

const incr = (index: number): Entry => ({
  term: 1,
  index,
  type: EntryType.normal,
  data: encodeCommand({ kv: { op: "incr", key: "c", delta: 1 }, ts: 1 }),
  chk: 0,
});

async function open(dataDir: string): Promise<StateMachine> {
  const snapshots = new SnapshotStore(join(dataDir, "snap"));
  await snapshots.open();
  const { machine } = await openStateMachine(
    options(dataDir),
    snapshots,
    null,
    false,
    Number.MAX_SAFE_INTEGER,
  );
  machines.push(machine);
  return machine;
}

describe("state machine - checkpoints", () => {
  test("state machine - a checkpoint pins the state at its index, and refuses an index the KV engine has passed", async () => {
    const dataDir = await dirs.make("sm");
    const first = await open(dataDir);
    await first.apply([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(incr));
    await first.close();
    machines.splice(machines.indexOf(first), 1);

    // A restart replays the log from 1 while LevelDB already holds index 10: at a snapshot
    // point 5, the state (c = 10) is not the state at 5 and must not be snapshotted as it.
    const replaying = await open(dataDir);
    await replaying.apply([1, 2, 3, 4, 5].map(incr));
    const work = join(dataDir, "work");
    expect(await replaying.beginCheckpoint(work, 5)).toBe(false);
    await expect(readdir(work)).rejects.toThrow(/ENOENT/);
    // At the engine's own index the checkpoint is taken.
    await replaying.apply([6, 7, 8, 9, 10].map(incr));
    expect(await replaying.beginCheckpoint(work, 10)).toBe(true);
    await replaying.finishCheckpoint();
    expect((await readdir(work)).sort()).toEqual(["kv.ckpt", "vectors"]);
    expect(await replaying.kv.get("c")).toBe("10");
  });
});

const entry = (index: number, command: LogCommand): Entry => ({
  term: 1,
  index,
  type: EntryType.normal,
  data: encodeCommand(command),
  chk: 0,
});

describe("state machine - revisions", () => {
  test("state machine - apply returns each entry's changes, replies carry revisions, history() reads them back", async () => {
    const machine = await open(await dirs.make("sm-rev"));
    const applied = await machine.apply([
      entry(1, { kv: { op: "put", key: "a", value: "1" }, ts: 1 }),
      entry(2, { ts: 1 }),
      entry(3, {
        kv: {
          op: "txn",
          compare: [{ key: "a", target: "version", op: "==", value: 1 }],
          success: [
            { op: "put", key: "b", value: "2", prevKv: true },
            { op: "deleteRange", range: { prefix: "a" } },
          ],
          failure: [],
        },
        session: { id: "s", seq: 1 },
        ts: 1,
      }),
    ]);
    const kv = (key: string, value: string, revision: number) => ({
      key,
      value,
      createRevision: revision,
      modRevision: revision,
      version: 1,
      lease: null,
    });
    const tombstone = {
      key: "a",
      value: "",
      createRevision: 0,
      modRevision: 3,
      version: 0,
      lease: null,
    };
    expect(applied.changes).toEqual([
      { revision: 1, events: [{ type: "put", kv: kv("a", "1", 1), prevKv: null }] },
      {
        revision: 3,
        events: [
          { type: "put", kv: kv("b", "2", 3), prevKv: null },
          { type: "delete", kv: tombstone, prevKv: kv("a", "1", 1) },
        ],
      },
    ]);
    expect(applied.answers.get(1)).toEqual({ ok: true, result: { index: 1, revision: 1 } });
    expect(applied.answers.get(3)).toEqual({
      ok: true,
      result: {
        succeeded: true,
        results: [
          { prevKv: null, index: 3, revision: 3 },
          { deleted: 1, index: 3, revision: 3 },
        ],
        index: 3,
        revision: 3,
      },
    });
    // The session record is no event, and a past read sees "a" at revision 2.
    expect(await machine.history(0, {}, 100)).toEqual({
      ok: true,
      changes: applied.changes,
      throughRevision: 3,
    });
    expect(
      await machine.read({ op: "get", key: "a", consistency: "stale", revision: 2 }, 3),
    ).toMatchObject({ ok: true, result: { found: true, value: "1", revision: 2, index: 3 } });
    // A retried session write answers as before and changes nothing.
    const retry = await machine.apply([
      entry(4, { kv: { op: "delete", key: "b" }, session: { id: "s", seq: 1 }, ts: 1 }),
    ]);
    expect(retry.changes).toEqual([]);
    expect(retry.answers.get(4)).toEqual(applied.answers.get(3));
  });

  test("state machine - compact through the log: COMPACTED below it, for reads and a second compact", async () => {
    const machine = await open(await dirs.make("sm-compact"));
    await machine.apply([1, 2, 3].map(incr));
    const { answers } = await machine.apply([
      entry(4, { kv: { op: "compact", revision: 3 }, ts: 1 }),
      entry(5, { kv: { op: "compact", revision: 2 }, ts: 1 }),
    ]);
    expect(answers.get(4)).toEqual({ ok: true, result: { revision: 3, index: 4 } });
    expect(answers.get(5)).toMatchObject({ ok: false, error: { code: "COMPACTED" } });
    const read = await machine.read({ op: "get", key: "c", consistency: "stale", revision: 2 }, 5);
    expect(read).toMatchObject({ ok: false, error: { code: "COMPACTED" } });
    expect(read.ok || read.error.message).toContain("oldest kept revision is 3");
  });
});

describe("state machine - in a worker thread", () => {
  test("state machine (workers) - apply returns changes and history() reads them across the thread", async () => {
    const compiled = new URL("../../dist/stages/apply/remote-state-machine.js", import.meta.url);
    if (!existsSync(compiled)) throw new Error("run `npx tsc -p tsconfig.json` first");
    const { RemoteStateMachine } = (await import(
      compiled.href
    )) as typeof import("../../stages/apply/remote-state-machine.js");
    const dataDir = await dirs.make("sm-worker");
    const { machine } = await RemoteStateMachine.open(
      options(dataDir),
      join(dataDir, "snap"),
      null,
      false,
      Number.MAX_SAFE_INTEGER,
    );
    try {
      const applied = await machine.apply([
        entry(1, { kv: { op: "put", key: "a", value: "1" }, ts: 1 }),
        entry(2, { kv: { op: "delete", key: "a" }, ts: 1 }),
      ]);
      expect(applied.answers.get(2)).toEqual({
        ok: true,
        result: { deleted: true, index: 2, revision: 2 },
      });
      expect(applied.changes.map((c: { revision: number }) => c.revision)).toEqual([1, 2]);
      expect(await machine.history(2, { prefix: "a" }, 10)).toEqual({
        ok: true,
        changes: [applied.changes[1]],
        throughRevision: 2,
      });
    } finally {
      await machine.close();
    }
  });
});

describe("state machine - sessions", () => {
  const entry = (index: number, command: Omit<LogCommand, "ts">): Entry => ({
    term: 1,
    index,
    type: EntryType.normal,
    data: encodeCommand({ ...command, ts: 1 }),
    chk: 0,
  });

  test("state machine - a session txn whose answer is too large to keep applies, and its retry is told so", async () => {
    const machine = await open(await dirs.make("sm"));
    const big = "v".repeat(1 << 20);
    const puts = [1, 2, 3, 4, 5].map((k) =>
      entry(k, { kv: { op: "put", key: `p${k}`, value: big } }),
    );
    await machine.apply(puts);
    // A small request (128 scans of 5 MiB) whose answer is 640 MiB: more than a string holds.
    const scan = { op: "scan" as const, range: { prefix: "p" }, limit: 10 };
    const txn = {
      kv: { op: "txn" as const, compare: [], success: Array(128).fill(scan), failure: [] },
      session: { id: "s", seq: 1 },
    };
    const first = await machine.apply([entry(6, txn)]);
    expect(first.answers.get(6)).toMatchObject({ ok: true, result: { succeeded: true } });
    const retry = await machine.apply([entry(7, txn)]);
    expect(retry.answers.get(7)).toMatchObject({ ok: false, error: { code: "BAD_REQUEST" } });
    // The session goes on as usual.
    const next = { kv: { op: "put" as const, key: "a", value: "1" }, session: { id: "s", seq: 2 } };
    expect((await machine.apply([entry(8, next)])).answers.get(8)).toMatchObject({ ok: true });
    expect((await machine.apply([entry(9, next)])).answers.get(9)).toMatchObject({
      ok: true,
      result: { index: 8 },
    });
  });
});
