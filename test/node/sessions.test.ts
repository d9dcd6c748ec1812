import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { type Entry, EntryType } from "../../raft/types.js";
import { encodeCommand, type LogCommand } from "../../stages/apply/commands.js";
import {
  SESSION_PREFIX,
  type SessionSettings,
  SessionTable,
  type SessionWrite,
} from "../../stages/apply/sessions.js";
import { openStateMachine, type StateMachine } from "../../stages/apply/state-machine.js";
import type { ReplyBody } from "../../stages/items.js";
import type { KvItem } from "../../storage/engines/engine.js";
import type { KvEngineName } from "../../storage/engines/registry.js";
import { SnapshotStore } from "../../storage/snapshot-store.js";
import { TempDirs } from "../storage/helpers.js";

/** The session table's records: what one write costs, and what an older version left. */

const settings: SessionSettings = {
  ttlMs: 3_600_000,
  window: 256,
  maxSessions: 1_000,
  expireEvery: 1_024,
};

/** The engine's reserved records as the writes leave them. */
class Records {
  readonly map = new Map<string, string>();
  write(writes: SessionWrite | readonly SessionWrite[]): void {
    for (const { key, value } of [writes].flat()) {
      if (value === null) this.map.delete(key);
      else this.map.set(key, value);
    }
  }
  items(): KvItem[] {
    return [...this.map].sort().map(([key, value]) => ({ key, value }));
  }
}

const answer = (seq: number): ReplyBody => ({
  ok: true,
  result: { index: 1_000 + seq, revision: 1_000 + seq, value: "v".repeat(100) },
});

/** Characters one record() call writes (keys and values). */
function size(writes: SessionWrite | readonly SessionWrite[]): number {
  return [writes].flat().reduce((n, w) => n + w.key.length + (w.value?.length ?? 0), 0);
}

/** A session table's records in the format before per-answer records (one JSON per session). */
function legacyRecord(id: string, ts: number, seqs: readonly number[]): KvItem {
  return {
    key: SESSION_PREFIX + id,
    value: JSON.stringify({ ts, results: seqs.map((seq) => [seq, answer(seq)]) }),
  };
}

describe("session table", () => {
  test("session table - a write's records are the same size with 1 or 256 answers kept", () => {
    const table = new SessionTable(settings);
    const records = new Records();
    const sizes: number[] = [];
    for (let seq = 1; seq <= 600; seq++) {
      const writes = table.record("s", seq, answer(seq), seq);
      sizes.push(size(writes));
      records.write(writes);
    }
    const one = answer(1);
    // One answer and a small per-session record (and, past the window, one delete).
    const bound = 2 * JSON.stringify(one).length + 200;
    for (const [k, written] of sizes.entries()) expect(written, `seq ${k + 1}`).toBeLessThan(bound);
    // The records hold exactly the window: no evicted answer is left behind.
    const fresh = new SessionTable(settings);
    fresh.load(records.items());
    expect(records.map.size).toBeLessThanOrEqual(settings.window + 1);
    expect(fresh.lookup("s", 600)).toEqual(answer(600));
    expect(fresh.lookup("s", 345)).toEqual(answer(345));
    expect(fresh.lookup("s", 344)).toBe("evicted");
    expect(fresh.lookup("s", 601)).toBeNull();
  });

  test("session table - records load back: answers, out-of-order seqs, ids with odd characters, expiry deletes them all", () => {
    const table = new SessionTable({ ...settings, window: 3, ttlMs: 1_000 });
    const records = new Records();
    const ids = ["a", "a\u00001", "x:y\u0000", "é"];
    for (const id of ids)
      for (const seq of [2, 1, 5, 4]) records.write(table.record(id, seq, answer(seq), 10));
    records.write(table.record("late", 1, answer(1), 5_000));
    const loaded = new SessionTable({ ...settings, window: 3, ttlMs: 1_000 });
    loaded.load(records.items());
    for (const id of ids) {
      expect(loaded.lookup(id, 5), id).toEqual(answer(5));
      expect(loaded.lookup(id, 2), id).toEqual(answer(2));
      expect(loaded.lookup(id, 1), id).toBe("evicted");
      expect(loaded.lookup(id, 3), id).toBeNull();
    }
    expect(loaded.size).toBe(5);
    // Idle since ts 10: every id but "late" goes, with all of its records.
    records.write(loaded.expire(5_500));
    expect(loaded.size).toBe(1);
    const after = new SessionTable(settings);
    after.load(records.items());
    expect(after.size).toBe(1);
    expect(after.lookup("late", 1)).toEqual(answer(1));
    expect(records.map.size).toBe(2);
  });

  test("session table - the previous version's whole-session records load, and move to per-answer records on the next write", () => {
    const records = new Records();
    for (const item of [legacyRecord("old", 50, [7, 8, 9]), legacyRecord("idle", 10, [1])])
      records.map.set(item.key, item.value);
    const table = new SessionTable({ ...settings, window: 3, ttlMs: 1_000 });
    table.load(records.items());
    expect(table.lookup("old", 8)).toEqual(answer(8));
    expect(table.lookup("old", 6)).toBe("evicted");
    expect(table.lookup("idle", 1)).toEqual(answer(1));
    // The next write keeps the window (8, 9, 10) in the new form.
    records.write(table.record("old", 10, answer(10), 60));
    const reloaded = new SessionTable({ ...settings, window: 3, ttlMs: 1_000 });
    reloaded.load(records.items());
    expect(reloaded.lookup("old", 8)).toEqual(answer(8));
    expect(reloaded.lookup("old", 10)).toEqual(answer(10));
    expect(reloaded.lookup("old", 7)).toBe("evicted");
    expect(JSON.parse(records.map.get(`${SESSION_PREFIX}old`)!)).not.toHaveProperty("results");
    // Later writes are small again.
    expect(size(reloaded.record("old", 11, answer(11), 70))).toBeLessThan(
      2 * JSON.stringify(answer(11)).length + 200,
    );
    // An old-format session that expires is deleted whole.
    records.write(reloaded.expire(1_020));
    expect([...records.map.keys()].some((key) => key.includes("idle"))).toBe(false);
  });
});

const dirs = new TempDirs();
const machines: StateMachine[] = [];
afterEach(async () => {
  for (const machine of machines.splice(0)) await machine.close();
  await dirs.removeAll();
});

async function open(dataDir: string, kvEngine: KvEngineName): Promise<StateMachine> {
  const snapshots = new SnapshotStore(join(dataDir, "snap"));
  await snapshots.open();
  const { machine } = await openStateMachine(
    {
      kvEngine,
      dataDir,
      vectors: { defaultEngine: "flat", hnsw: { m: 16, efConstruction: 200, efSearch: 50 } },
      sessions: settings,
    },
    snapshots,
    null,
    false,
    Number.MAX_SAFE_INTEGER,
  );
  await machine.load();
  machines.push(machine);
  return machine;
}

function entry(index: number, command: LogCommand): Entry {
  return { term: 1, index, type: EntryType.normal, data: encodeCommand(command), chk: 0 };
}

describe.each(["level", "memory"] as const)("sessions in the state machine (%s)", (engine) => {
  test("sessions - a data dir and a snapshot holding the previous version's records answer retries", async () => {
    const machine = await open(await dirs.make("sm"), engine);
    // What the previous version wrote: the whole session in one record, beside its write.
    await machine.kv.applyBatch(
      [{ index: 1, command: { op: "put", key: "a", value: "1" } }],
      1,
      () => [legacyRecord("s", 1, [1])],
    );
    await machine.load();
    const retry = {
      kv: { op: "put" as const, key: "a", value: "1" },
      session: { id: "s", seq: 1 },
    };
    expect((await machine.apply([entry(2, { ...retry, ts: 2 })])).answers.get(2)).toEqual(
      answer(1),
    );
    const work = join(await dirs.make("ckpt"), "w");
    expect(await machine.beginCheckpoint(work, 2)).toBe(true);
    await machine.finishCheckpoint();
    const target = await open(await dirs.make("b"), engine);
    await target.restore(work, 2);
    expect((await target.apply([entry(3, { ...retry, ts: 3 })])).answers.get(3)).toEqual(answer(1));
    // A new write in the session, then a restore of a checkpoint holding both forms' records.
    const next = { kv: { op: "put" as const, key: "b", value: "2" }, session: { id: "s", seq: 2 } };
    const first = (await target.apply([entry(4, { ...next, ts: 4 })])).answers.get(4);
    const work2 = join(await dirs.make("ckpt2"), "w");
    expect(await target.beginCheckpoint(work2, 4)).toBe(true);
    await target.finishCheckpoint();
    const third = await open(await dirs.make("c"), engine);
    await third.restore(work2, 4);
    const answers = (
      await third.apply([entry(5, { ...retry, ts: 5 }), entry(6, { ...next, ts: 6 })])
    ).answers;
    expect(answers.get(5)).toEqual(answer(1));
    expect(answers.get(6)).toEqual(first);
  });
});
