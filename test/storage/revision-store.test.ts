import { join } from "node:path";
import { ClassicLevel } from "classic-level";
import fc from "fast-check";
import { afterEach, describe, expect, test } from "vitest";
import type { KvCommand, KvEngine, KvRead, KvResult } from "../../storage/engines/engine.js";
import type { KvBackend } from "../../storage/engines/kv-backend.js";
import { writeKvCheckpoint } from "../../storage/engines/kv-checkpoint.js";
import { LevelKvEngine } from "../../storage/engines/kv-level.js";
import { sealValue } from "../../storage/engines/kv-level-integrity.js";
import { MemoryKvEngine } from "../../storage/engines/kv-memory.js";
import type { HistorySettings } from "../../storage/engines/revision-store.js";
import type { HistoryRead, KeyValue } from "../../storage/engines/revisions.js";
import { TempDirs } from "./helpers.js";

const dirs = new TempDirs();
const opened: KvEngine[] = [];

afterEach(async () => {
  for (const e of opened.splice(0)) await e.close();
  await dirs.removeAll();
});

const NO_BOUND: HistorySettings = { keepRevisions: 0, keepBytes: 0 };

type Kind = "memory" | "level";
const KINDS: Kind[] = ["memory", "level"];

async function make(kind: Kind, settings = NO_BOUND, dir?: string): Promise<KvEngine> {
  const engine =
    kind === "memory"
      ? new MemoryKvEngine(settings)
      : new LevelKvEngine(dir ?? join(await dirs.make("rev"), "kv"), { history: settings });
  await engine.open();
  opened.push(engine);
  return engine;
}

async function close(engine: KvEngine): Promise<void> {
  opened.splice(opened.indexOf(engine), 1);
  await engine.close();
}

/** Apply one command per entry at `index`. */
async function at(engine: KvEngine, index: number, command: KvCommand): Promise<KvResult> {
  const [result] = await engine.applyBatch([{ index, command }], index);
  return result!;
}

async function read(engine: KvEngine, request: KvRead): Promise<KvResult> {
  const answer = await engine.read(request);
  if (!answer.ok) throw new Error(`read failed: ${JSON.stringify(answer)}`);
  return answer.result;
}

const kv = (key: string, value: string, c: number, m: number, v: number): KeyValue => ({
  key,
  value,
  createRevision: c,
  modRevision: m,
  version: v,
  lease: null,
});

const all = { range: {}, limit: 1000 } as const;

describe.each(KINDS)("revision store (%s)", (kind) => {
  test("revisions - each key carries createRevision, modRevision, version; a delete ends the generation", async () => {
    const e = await make(kind);
    await at(e, 1, { op: "put", key: "a", value: "1" });
    await at(e, 2, { op: "put", key: "a", value: "2", lease: "7" });
    await at(e, 3, { op: "incr", key: "a", delta: 1 });
    expect(await read(e, { op: "get", key: "a" })).toEqual({
      op: "get",
      kv: { ...kv("a", "3", 1, 3, 3), lease: "7" },
    });
    await at(e, 4, { op: "delete", key: "a" });
    await at(e, 6, { op: "put", key: "a", value: "new" });
    expect(await read(e, { op: "get", key: "a" })).toEqual({
      op: "get",
      kv: kv("a", "new", 6, 6, 1),
    });
  });

  test("revisions - reads at a past revision see the state then, keys created, changed and deleted since", async () => {
    const e = await make(kind);
    await at(e, 1, { op: "put", key: "a", value: "a1" });
    await at(e, 2, { op: "put", key: "b", value: "b2" });
    await at(e, 3, { op: "put", key: "a", value: "a3" });
    await at(e, 4, { op: "delete", key: "b" });
    await at(e, 5, { op: "put", key: "c", value: "c5" });
    const states: Record<number, KeyValue[]> = {
      0: [],
      1: [kv("a", "a1", 1, 1, 1)],
      2: [kv("a", "a1", 1, 1, 1), kv("b", "b2", 2, 2, 1)],
      3: [kv("a", "a3", 1, 3, 2), kv("b", "b2", 2, 2, 1)],
      4: [kv("a", "a3", 1, 3, 2)],
      5: [kv("a", "a3", 1, 3, 2), kv("c", "c5", 5, 5, 1)],
    };
    for (const [revision, items] of Object.entries(states)) {
      const r = Number(revision);
      expect(await read(e, { op: "scan", ...all, revision: r }), `at ${r}`).toEqual({
        op: "scan",
        items,
        more: false,
        count: items.length,
      });
      for (const key of ["a", "b", "c"])
        expect(await read(e, { op: "get", key, revision: r }), `${key} at ${r}`).toEqual({
          op: "get",
          kv: items.find((item) => item.key === key) ?? null,
        });
    }
    expect(await e.read({ op: "get", key: "a", revision: 6 })).toEqual({
      ok: false,
      error: "future",
      appliedIndex: 5,
    });
  });

  test("revisions - compact at C keeps C readable and answers reads below it COMPACTED", async () => {
    const e = await make(kind);
    for (let index = 1; index <= 6; index++)
      await at(e, index, { op: "put", key: `k${index % 2}`, value: String(index) });
    expect(await at(e, 7, { op: "compact", revision: 4 })).toEqual({ op: "compact", revision: 4 });
    expect(e.compactedRevision).toBe(4);
    expect(await read(e, { op: "get", key: "k0", revision: 4 })).toEqual({
      op: "get",
      kv: kv("k0", "4", 2, 4, 2),
    });
    expect(await e.read({ op: "get", key: "k0", revision: 3 })).toEqual({
      ok: false,
      error: "compacted",
      compactedRevision: 4,
    });
    expect(await e.history(3, {}, 100)).toEqual({ ok: false, compactedRevision: 4 });
    const from4 = await e.history(4, {}, 100);
    expect(from4.ok && from4.changes.map((c) => c.revision)).toEqual([4, 5, 6]);
    // Below the compacted revision, and past the entry itself, are refused and change nothing.
    expect(await at(e, 8, { op: "compact", revision: 2 })).toEqual({
      op: "compact",
      error: "compacted",
      revision: 4,
    });
    expect(await at(e, 9, { op: "compact", revision: 10 })).toEqual({
      op: "compact",
      error: "future",
      revision: 9,
    });
    expect(e.compactedRevision).toBe(4);
  });

  test("revisions - history() returns each change with prevKv, filtered by range, cut by limit at a revision", async () => {
    const e = await make(kind);
    await at(e, 1, { op: "put", key: "a/1", value: "x" });
    await at(e, 2, { op: "put", key: "b", value: "y" });
    await at(e, 3, {
      op: "txn",
      compare: [],
      success: [
        { op: "put", key: "a/2", value: "z" },
        { op: "delete", key: "a/1" },
      ],
      failure: [],
    });
    const read1 = await e.history(1, { prefix: "a/" }, 100);
    expect(read1).toEqual({
      ok: true,
      throughRevision: 3,
      changes: [
        { revision: 1, events: [{ type: "put", kv: kv("a/1", "x", 1, 1, 1), prevKv: null }] },
        {
          revision: 3,
          events: [
            { type: "put", kv: kv("a/2", "z", 3, 3, 1), prevKv: null },
            {
              type: "delete",
              kv: {
                key: "a/1",
                value: "",
                createRevision: 0,
                modRevision: 3,
                version: 0,
                lease: null,
              },
              prevKv: kv("a/1", "x", 1, 1, 1),
            },
          ],
        },
      ],
    });
    const cut = await e.history(1, {}, 2);
    expect(cut.ok && [cut.throughRevision, cut.changes.length]).toEqual([2, 2]);
  });

  test("txn - compares choose the branch; later ops see earlier ones; results in order", async () => {
    const e = await make(kind);
    await at(e, 1, { op: "put", key: "a", value: "5" });
    const txn = (value: string): KvCommand => ({
      op: "txn",
      compare: [
        { key: "a", target: "value", op: "==", value },
        { key: "a", target: "version", op: "<", value: 5 },
        { key: "a", target: "createRevision", op: "==", value: 1 },
        { key: "missing", target: "modRevision", op: "==", value: 0 },
        { key: "a", target: "lease", op: "==", value: null },
      ],
      success: [
        { op: "put", key: "b", value: "1", prevKv: true },
        { op: "get", key: "b" },
        { op: "scan", range: {}, limit: 1 },
      ],
      failure: [{ op: "deleteRange", range: { prefix: "" }, prevKv: true }],
    });
    expect(await at(e, 2, txn("5"))).toEqual({
      op: "txn",
      succeeded: true,
      results: [
        { op: "put", prevKv: null },
        { op: "get", kv: kv("b", "1", 2, 2, 1) },
        { op: "scan", items: [kv("a", "5", 1, 1, 1)], more: true, count: 2 },
      ],
    });
    expect(await at(e, 3, txn("6"))).toEqual({
      op: "txn",
      succeeded: false,
      results: [
        {
          op: "deleteRange",
          deleted: 2,
          prevKvs: [kv("a", "5", 1, 1, 1), kv("b", "1", 2, 2, 1)],
        },
      ],
    });
    expect(await read(e, { op: "scan", ...all })).toEqual({
      op: "scan",
      items: [],
      more: false,
      count: 0,
    });
    // Both writes of one txn share its revision.
    const h = await e.history(2, {}, 100);
    expect(h.ok && h.changes.map((c) => [c.revision, c.events.length])).toEqual([
      [2, 1],
      [3, 2],
    ]);
  });

  test("range ops - delete by prefix and by [start, end); scan more, count, countOnly", async () => {
    const e = await make(kind);
    const keys = ["a", "b/1", "b/2", "b/3", "c"];
    await e.applyBatch(
      keys.map((key, k) => ({ index: k + 1, command: { op: "put", key, value: key } })),
      keys.length,
    );
    expect(await read(e, { op: "scan", range: { prefix: "b/" }, limit: 2 })).toMatchObject({
      more: true,
      count: 3,
      items: [{ key: "b/1" }, { key: "b/2" }],
    });
    expect(await read(e, { op: "scan", range: {}, limit: 9, countOnly: true })).toEqual({
      op: "scan",
      items: [],
      more: false,
      count: 5,
    });
    expect(await at(e, 6, { op: "deleteRange", range: { start: "b/2", end: "c" } })).toEqual({
      op: "deleteRange",
      deleted: 2,
    });
    expect(await at(e, 7, { op: "deleteRange", range: { prefix: "b/" } })).toEqual({
      op: "deleteRange",
      deleted: 1,
    });
    expect((await e.scan({ limit: 10 })).map((i) => i.key)).toEqual(["a", "c"]);
  });

  test("history bounds - keepRevisions and keepBytes compact as entries apply, however they are batched", async () => {
    for (const settings of [
      { keepRevisions: 3, keepBytes: 0 },
      { keepRevisions: 0, keepBytes: 400 },
    ]) {
      const one = await make(kind, settings);
      const many = await make(kind, settings);
      const commands = Array.from({ length: 12 }, (_, k) => ({
        index: k + 1,
        command: { op: "put", key: `k${k % 3}`, value: "v".repeat(k) } as KvCommand,
      }));
      await one.applyBatch(commands, 12);
      for (const command of commands) await many.applyBatch([command], command.index);
      expect(one.compactedRevision, JSON.stringify(settings)).toBeGreaterThan(1);
      expect(many.compactedRevision).toBe(one.compactedRevision);
      expect(await many.history(0, {}, 100)).toEqual(await one.history(0, {}, 100));
      expect(await many.history(one.compactedRevision, {}, 100)).toEqual(
        await one.history(one.compactedRevision, {}, 100),
      );
      if (settings.keepRevisions) expect(one.compactedRevision).toBe(10);
      else expect(one.stats().historyBytes).toBeLessThanOrEqual(400);
    }
  });

  test("history bounds - a history read while a write forgets history says COMPACTED, never skips", async () => {
    const engine = await make(kind, { keepRevisions: 2, keepBytes: 0 });
    const put = (index: number) => ({
      index,
      command: { op: "put", key: "a", value: String(index) } as KvCommand,
    });
    await engine.applyBatch([put(1)], 1);
    await engine.applyBatch([put(2)], 2);
    // A read (a watch catching up) that lands as the write forgetting revisions 1 and 2 is done.
    const backend = (engine as unknown as { backend: KvBackend }).backend;
    const write = backend.write.bind(backend);
    let read: Promise<HistoryRead> | null = null;
    backend.write = async (batch) => {
      await write(batch);
      read = engine.history(1, {}, 100);
    };
    await engine.applyBatch([put(3), put(4)], 4);
    const answer = await read!;
    expect(answer.ok ? answer.changes.map((c) => c.revision) : "compacted").toBe("compacted");
  });

  test("checkpoint - carries metadata, history and the compacted revision; restores into either kind", async () => {
    const e = await make(kind);
    await at(e, 1, { op: "put", key: "a", value: "1" });
    await at(e, 2, { op: "put", key: "a", value: "2" });
    await at(e, 3, { op: "compact", revision: 2 });
    await at(e, 4, { op: "delete", key: "a" });
    const path = join(await dirs.make("rev-ckpt"), "kv.ckpt");
    await e.checkpoint(path);
    for (const target of KINDS) {
      const restored = await make(target);
      await restored.restore(path, 4);
      expect(restored.compactedRevision).toBe(2);
      expect(await read(restored, { op: "get", key: "a", revision: 3 })).toEqual({
        op: "get",
        kv: kv("a", "2", 1, 2, 2),
      });
      expect(await restored.history(2, {}, 10)).toEqual(await e.history(2, {}, 10));
      await at(restored, 5, { op: "put", key: "a", value: "again" });
      expect(await read(restored, { op: "get", key: "a" })).toEqual({
        op: "get",
        kv: kv("a", "again", 5, 5, 1),
      });
    }
  });

  test("checkpoint - an old (format 1) checkpoint opens: its keys count as written at its index", async () => {
    const path = join(await dirs.make("rev-old"), "kv.ckpt");
    await writeKvCheckpoint(path, [{ key: "a", value: "old" }], undefined, 1);
    const e = await make(kind);
    await e.restore(path, 9);
    expect(e.compactedRevision).toBe(9);
    expect(await read(e, { op: "get", key: "a" })).toEqual({
      op: "get",
      kv: kv("a", "old", 9, 9, 1),
    });
    await at(e, 10, { op: "put", key: "a", value: "new" });
    expect(await read(e, { op: "get", key: "a", revision: 9 })).toEqual({
      op: "get",
      kv: kv("a", "old", 9, 9, 1),
    });
    expect(await e.read({ op: "get", key: "a", revision: 8 })).toMatchObject({
      error: "compacted",
    });
  });
});

describe("revision store (level restarts)", () => {
  test("revisions - level keeps metadata, history and the compacted revision across a restart", async () => {
    const dir = join(await dirs.make("rev-restart"), "kv");
    let e = await make("level", NO_BOUND, dir);
    await at(e, 1, { op: "put", key: "a", value: "1" });
    await at(e, 2, { op: "put", key: "a", value: "2" });
    await at(e, 3, { op: "compact", revision: 2 });
    await close(e);
    e = await make("level", NO_BOUND, dir);
    expect(e.compactedRevision).toBe(2);
    expect(await read(e, { op: "get", key: "a" })).toEqual({
      op: "get",
      kv: kv("a", "2", 1, 2, 2),
    });
    const h = await e.history(2, {}, 10);
    expect(h.ok && h.changes.map((c) => c.revision)).toEqual([2]);
  });

  test("revisions - a level dir of the format before revisions opens, migrated: values at the applied index", async () => {
    const dir = join(await dirs.make("rev-format2"), "kv");
    const db = new ClassicLevel<string, string>(dir);
    await db.open();
    await db.batch([
      { type: "put", key: "m:format", value: sealValue("m:format", "2") },
      { type: "put", key: "m:applied", value: sealValue("m:applied", "12") },
      { type: "put", key: "d:a", value: sealValue("d:a", "bare") },
    ]);
    await db.close();
    const e = await make("level", NO_BOUND, dir);
    expect(e.rebuild).toBeNull();
    expect(e.appliedIndex).toBe(12);
    expect(e.compactedRevision).toBe(12);
    expect(await read(e, { op: "get", key: "a" })).toEqual({
      op: "get",
      kv: kv("a", "bare", 12, 12, 1),
    });
    await at(e, 13, { op: "put", key: "a", value: "next" });
    await close(e);
    const again = await make("level", NO_BOUND, dir);
    expect(await read(again, { op: "get", key: "a" })).toEqual({
      op: "get",
      kv: kv("a", "next", 12, 13, 2),
    });
  });
});

const SEED = 4242;

describe("revision store - past reads against a replay", () => {
  test(`revisions - a read at any kept revision equals the state replayed to it (fast-check seed ${SEED})`, async () => {
    const keyArb = fc.constantFrom("a", "b", "c", "d");
    const commandArb: fc.Arbitrary<KvCommand> = fc.oneof(
      fc.record({
        op: fc.constant("put" as const),
        key: keyArb,
        value: fc.string({ maxLength: 3 }),
      }),
      fc.record({ op: fc.constant("delete" as const), key: keyArb }),
      fc.record({ op: fc.constant("deleteRange" as const), range: fc.record({ start: keyArb }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(commandArb, { minLength: 1, maxLength: 12 }), async (commands) => {
        for (const kind of KINDS) {
          const e = await make(kind);
          const states: string[] = [JSON.stringify(await e.scan({ limit: 100 }))];
          for (const [k, command] of commands.entries()) {
            await at(e, k + 1, command);
            states.push(JSON.stringify(await e.scan({ limit: 100 })));
          }
          for (let r = 0; r <= commands.length; r++) {
            const past = await read(e, { op: "scan", range: {}, limit: 100, revision: r });
            const items =
              past.op === "scan" ? past.items.map(({ key, value }) => ({ key, value })) : [];
            expect(JSON.stringify(items), `${kind} at ${r}`).toBe(states[r]);
          }
          await close(e);
        }
      }),
      { seed: SEED, numRuns: 40 },
    );
  });
});
