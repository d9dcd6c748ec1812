import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import type { KvEngine } from "../../storage/engines/engine.js";
import { LevelKvEngine } from "../../storage/engines/kv-level.js";
import { MemoryKvEngine } from "../../storage/engines/kv-memory.js";
import type { HistorySettings } from "../../storage/engines/revision-store.js";
import { TempDirs } from "./helpers.js";

/**
 * Issue 12's worst defect: one entry whose history record outgrows V8's string limit
 * (2^29 - 24 characters) must not stop the replicas that apply it. A range delete of 100 keys
 * holding 1 MiB values (the protocol's maxValueBytes) of control characters is such an entry:
 * as JSON each character takes 6 ("\u0001"), so its prevKvs alone are 600 Mi characters.
 */
const KEYS = 100;
const VALUE = "\u0001".repeat(1 << 20);
/** Only the newest change is kept: what the test writes stays near 100 MiB. */
const SMALL_HISTORY: HistorySettings = { keepRevisions: 0, keepBytes: 1 };

const dirs = new TempDirs();
const opened: KvEngine[] = [];

afterEach(async () => {
  for (const e of opened.splice(0)) await e.close();
  await dirs.removeAll();
});

async function make(kind: "memory" | "level", dir?: string): Promise<KvEngine> {
  const engine =
    kind === "memory"
      ? new MemoryKvEngine(SMALL_HISTORY)
      : new LevelKvEngine(dir ?? join(await dirs.make("huge"), "kv"), {
          history: SMALL_HISTORY,
          verifyAtOpen: false,
        });
  await engine.open();
  opened.push(engine);
  return engine;
}

/** The kept delete events, checked event by event (no giant strings in the assertion). */
async function expectDeleteKept(engine: KvEngine, revision: number): Promise<void> {
  const read = await engine.history(revision, {}, 10 * KEYS);
  if (!read.ok) throw new Error(`history compacted at ${read.compactedRevision}`);
  expect(read.changes.map((c) => c.revision)).toEqual([revision]);
  const events = read.changes[0]!.events;
  expect(events.length).toBe(KEYS);
  events.forEach((event, k) => {
    expect(event.type).toBe("delete");
    expect(event.kv.key).toBe(`big/${String(k).padStart(3, "0")}`);
    expect(event.prevKv?.value === VALUE).toBe(true);
    expect(event.prevKv?.modRevision).toBe(k + 1);
  });
}

describe.each(["memory", "level"] as const)("a huge entry (%s)", (kind) => {
  test("revisions - a range delete whose history is past V8's string limit applies, checkpoints and restores", {
    timeout: 120_000,
  }, async () => {
    const engine = await make(kind);
    await engine.applyBatch(
      Array.from({ length: KEYS }, (_, k) => ({
        index: k + 1,
        command: { op: "put", key: `big/${String(k).padStart(3, "0")}`, value: VALUE },
      })),
      KEYS,
    );
    const deleteAt = KEYS + 1;
    const [result] = await engine.applyBatch(
      [{ index: deleteAt, command: { op: "deleteRange", range: { prefix: "big/" } } }],
      deleteAt,
    );
    expect(result).toEqual({ op: "deleteRange", deleted: KEYS });
    expect(engine.appliedIndex).toBe(deleteAt);
    await expectDeleteKept(engine, deleteAt);

    const path = join(await dirs.make("huge-ckpt"), "kv.ckpt");
    await engine.checkpoint(path);
    const restored = await make(kind);
    await restored.restore(path, deleteAt);
    expect(await restored.scan({ limit: 10 })).toEqual([]);
    await expectDeleteKept(restored, deleteAt);
  });
});
