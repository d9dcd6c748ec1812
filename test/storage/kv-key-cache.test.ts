import { join } from "node:path";
import { Packr } from "msgpackr";
import { afterEach, describe, expect, test } from "vitest";
import { xorshift } from "../../ops/bench/xorshift.js";
import type { KvCommand, KvEngine } from "../../storage/engines/engine.js";
import { LevelKvEngine } from "../../storage/engines/kv-level.js";
import { MemoryKvEngine } from "../../storage/engines/kv-memory.js";
import { TempDirs } from "./helpers.js";

const dirs = new TempDirs();
const opened: KvEngine[] = [];

afterEach(async () => {
  for (const e of opened.splice(0)) await e.close();
  await dirs.removeAll();
});

const SEED = 1207;
const NO_BOUND = { keepRevisions: 0, keepBytes: 0 };
/** Small enough that both bounds forget history many times over, across the restart too. */
const BOUNDED = { keepRevisions: 40, keepBytes: 2_000 };

async function track<E extends KvEngine>(engine: E): Promise<E> {
  await engine.open();
  opened.push(engine);
  return engine;
}

/** Random puts (some with prevKv), deletes and incrs over 12 keys, in batches of 1–8. */
function batches(seed: number, count: number): { index: number; command: KvCommand }[][] {
  const next = xorshift(seed);
  const out: { index: number; command: KvCommand }[][] = [];
  let index = 0;
  for (let b = 0; b < count; b++) {
    const batch: { index: number; command: KvCommand }[] = [];
    for (let k = 1 + (next() % 8); k > 0; k--) {
      const key = `k${next() % 12}`;
      const pick = next() % 4;
      const command: KvCommand =
        pick === 0
          ? { op: "delete", key, prevKv: true }
          : pick === 1
            ? { op: "incr", key: `n${next() % 3}`, delta: 1 }
            : { op: "put", key, value: `v${index}`.repeat(1 + (next() % 20)), prevKv: true };
      batch.push({ index: ++index, command });
    }
    out.push(batch);
  }
  return out;
}

describe("LevelDB engine and the process's other MessagePack users", () => {
  test("kv - bytes packed elsewhere between two engine writes stay intact", async () => {
    const level = await track(new LevelKvEngine(join(await dirs.make("packr"), "kv")));
    const other = new Packr();
    await level.applyBatch([{ index: 1, command: { op: "put", key: "a", value: "1" } }], 1);
    const entry = { term: 3, data: "x".repeat(100) };
    const packed = other.pack(entry);
    await level.applyBatch([{ index: 2, command: { op: "put", key: "a", value: "2" } }], 2);
    expect(other.unpack(packed)).toEqual(entry);
  });
});

describe("LevelDB key cache", () => {
  test.each([
    [0, NO_BOUND],
    [400, NO_BOUND],
    [32 << 20, NO_BOUND],
    [400, BOUNDED],
  ])(
    `kv - with a key cache of %i bytes and history bounds %o, level applies, reads and keeps history as memory does (seed ${SEED})`,
    async (keyCacheBytes, history) => {
      const dir = join(await dirs.make("keycache"), "kv");
      const memory = await track(new MemoryKvEngine(history));
      let level = await track(new LevelKvEngine(dir, { history, keyCacheBytes }));
      const all = batches(SEED, 60);
      for (const [b, batch] of all.entries()) {
        const last = batch.at(-1)!.index;
        const expected = await memory.applyBatch(batch, last);
        expect(await level.applyBatch(batch, last), `seed ${SEED} batch ${b}`).toEqual(expected);
        if (b === 30) {
          // A restart empties the cache: what it knew comes back from LevelDB.
          opened.splice(opened.indexOf(level), 1);
          await level.close();
          level = await track(new LevelKvEngine(dir, { history, keyCacheBytes }));
        }
      }
      const scan = { op: "scan", range: {}, limit: 100 } as const;
      expect(await level.read(scan)).toEqual(await memory.read(scan));
      expect(level.compactedRevision).toBe(memory.compactedRevision);
      expect(level.stats().historyBytes).toBe(memory.stats().historyBytes);
      const from = memory.compactedRevision;
      expect(await level.history(from, {}, 10_000)).toEqual(await memory.history(from, {}, 10_000));
    },
  );
});
