import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { type Entry, EntryType } from "../../raft/types.js";
import { encodeCommand } from "../../stages/apply/commands.js";
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
