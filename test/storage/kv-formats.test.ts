import { join } from "node:path";
import { ClassicLevel } from "classic-level";
import { afterEach, describe, expect, test } from "vitest";
import type { KvEngine } from "../../storage/engines/engine.js";
import { writeKvCheckpoint } from "../../storage/engines/kv-checkpoint.js";
import { LevelKvEngine } from "../../storage/engines/kv-level.js";
import { sealValue } from "../../storage/engines/kv-level-integrity.js";
import { MemoryKvEngine } from "../../storage/engines/kv-memory.js";
import type { KeyValue, KvChanges } from "../../storage/engines/revisions.js";
import { TempDirs } from "./helpers.js";

/** Data written by the revision store's first formats (history as one JSON record a revision). */
const dirs = new TempDirs();
const opened: KvEngine[] = [];

afterEach(async () => {
  for (const e of opened.splice(0)) await e.close();
  await dirs.removeAll();
});

const NO_BOUND = { keepRevisions: 0, keepBytes: 0 };

async function track<E extends KvEngine>(engine: E): Promise<E> {
  await engine.open();
  opened.push(engine);
  return engine;
}

const kv = (key: string, value: string, c: number, m: number, v: number): KeyValue => ({
  key,
  value,
  createRevision: c,
  modRevision: m,
  version: v,
  lease: null,
});

/** a=1 at 1, a=2 and b=x at 2 (one txn), b deleted at 3. */
const OLD_CHANGES: KvChanges[] = [
  { revision: 1, events: [{ type: "put", kv: kv("a", "1", 1, 1, 1), prevKv: null }] },
  {
    revision: 2,
    events: [
      { type: "put", kv: kv("a", "2", 1, 2, 2), prevKv: kv("a", "1", 1, 1, 1) },
      { type: "put", kv: kv("b", "x", 2, 2, 1), prevKv: null },
    ],
  },
  {
    revision: 3,
    events: [{ type: "delete", kv: kv("b", "", 0, 3, 0), prevKv: kv("b", "x", 2, 2, 1) }],
  },
];
const OLD_RECORDS = [
  { key: "d:a", value: "1 2 2 \n2" },
  ...OLD_CHANGES.map((c) => ({
    key: `h:${String(c.revision).padStart(16, "0")}`,
    value: JSON.stringify(c),
  })),
  { key: "m:history", value: JSON.stringify({ compactedRevision: 1, historyBytes: 300 }) },
];

async function expectOldState(e: KvEngine): Promise<void> {
  expect(e.compactedRevision).toBe(1);
  expect(await e.history(1, {}, 100)).toEqual({
    ok: true,
    changes: OLD_CHANGES,
    throughRevision: 3,
  });
  expect(await e.read({ op: "get", key: "b", revision: 2 })).toEqual({
    ok: true,
    result: { op: "get", kv: kv("b", "x", 2, 2, 1) },
  });
  expect(await e.read({ op: "get", key: "a" })).toEqual({
    ok: true,
    result: { op: "get", kv: kv("a", "2", 1, 2, 2) },
  });
}

describe("revision store formats", () => {
  test("revisions - a level dir of format 3 (history as JSON) opens, migrated, and goes on", async () => {
    const dir = join(await dirs.make("fmt3"), "kv");
    const db = new ClassicLevel<string, string>(dir);
    await db.open();
    await db.batch(
      [...OLD_RECORDS, { key: "m:format", value: "3" }, { key: "m:applied", value: "3" }].map(
        ({ key, value }) => ({ type: "put" as const, key, value: sealValue(key, value) }),
      ),
    );
    await db.close();
    let e = await track(new LevelKvEngine(dir, { history: NO_BOUND }));
    expect(e.rebuild).toBeNull();
    expect(e.appliedIndex).toBe(3);
    await expectOldState(e);
    // Compaction forgets migrated revisions as it forgets new ones.
    await e.applyBatch([{ index: 4, command: { op: "compact", revision: 3 } }], 4);
    opened.splice(opened.indexOf(e), 1);
    await e.close();
    e = await track(new LevelKvEngine(dir, { history: NO_BOUND }));
    const h = await e.history(3, {}, 100);
    expect(h).toEqual({ ok: true, changes: [OLD_CHANGES[2]], throughRevision: 4 });
  });

  test.each(["memory", "level"] as const)(
    "checkpoint - a format 2 checkpoint (history as JSON) restores into %s",
    async (kind) => {
      const path = join(await dirs.make("ckpt2"), "kv.ckpt");
      await writeKvCheckpoint(path, OLD_RECORDS, undefined, 2);
      const e = await track(
        kind === "memory"
          ? new MemoryKvEngine(NO_BOUND)
          : new LevelKvEngine(join(await dirs.make("ckpt2-level"), "kv"), { history: NO_BOUND }),
      );
      await e.restore(path, 3);
      await expectOldState(e);
    },
  );
});
