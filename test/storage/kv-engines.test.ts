import { readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, describe, expect, test } from "vitest";
import { decodeRequest } from "../../stages/protocol-decode.js";
import {
  type KvCommand as AnyKvCommand,
  compareKeys,
  type KvEngine,
  type KvItem,
  type KvRange,
  type KvResult,
} from "../../storage/engines/engine.js";
import { CheckpointCorruptError } from "../../storage/engines/kv-checkpoint.js";
import { LevelKvEngine } from "../../storage/engines/kv-level.js";
import { MemoryKvEngine } from "../../storage/engines/kv-memory.js";
import { TempDirs } from "./helpers.js";

const dirs = new TempDirs();
const opened: KvEngine[] = [];

async function engine<E extends KvEngine>(make: E): Promise<E> {
  await make.open();
  opened.push(make);
  return make;
}

async function close(e: KvEngine): Promise<void> {
  opened.splice(opened.indexOf(e), 1);
  await e.close();
}

afterEach(async () => {
  for (const e of opened.splice(0)) await e.close();
  await dirs.removeAll();
});

/** The single-key commands this suite's model covers (revision-store.test.ts covers the rest). */
type KvCommand = Extract<AnyKvCommand, { op: "put" | "delete" | "cas" | "incr" }>;

const encoder = new TextEncoder();
/** UTF-8 byte order, computed independently of compareKeys. */
const byteOrder = (a: string, b: string): number =>
  Buffer.compare(encoder.encode(a), encoder.encode(b));

/** The reference model: a plain Map and the documented semantics, written out again. */
class Model {
  values = new Map<string, string>();
  appliedIndex = 0;

  apply(commands: readonly { index: number; command: KvCommand }[], lastIndex: number): KvResult[] {
    const results: KvResult[] = [];
    for (const { index, command } of commands) {
      const current = this.values.get(command.key) ?? null;
      let result: KvResult;
      let next: string | null | undefined;
      switch (command.op) {
        case "put":
          result = { op: "put" };
          next = command.value;
          break;
        case "delete":
          result = { op: "delete", deleted: current !== null };
          next = null;
          break;
        case "cas":
          if (current === command.expect) {
            result = { op: "cas", succeeded: true, value: command.value };
            next = command.value;
          } else {
            result = { op: "cas", succeeded: false, value: current };
          }
          break;
        case "incr": {
          const base = current ?? "0";
          const sum = /^-?[0-9]+$/.test(base) ? BigInt(base) + BigInt(command.delta) : null;
          if (
            sum === null ||
            sum > BigInt(Number.MAX_SAFE_INTEGER) ||
            -sum > BigInt(Number.MAX_SAFE_INTEGER)
          ) {
            result = { op: "incr", error: "not-integer", value: base };
          } else {
            result = { op: "incr", value: Number(sum) };
            next = sum.toString();
          }
          break;
        }
      }
      results.push(result);
      if (index <= this.appliedIndex || next === undefined) continue;
      if (next === null) this.values.delete(command.key);
      else this.values.set(command.key, next);
    }
    this.appliedIndex = Math.max(this.appliedIndex, lastIndex);
    return results;
  }

  items(): KvItem[] {
    return [...this.values.keys()]
      .sort(byteOrder)
      .map((key) => ({ key, value: this.values.get(key)! }));
  }

  scan(range: KvRange): KvItem[] {
    return this.items()
      .filter(
        ({ key }) =>
          (range.prefix === undefined || key.startsWith(range.prefix)) &&
          (range.start === undefined || byteOrder(key, range.start) >= 0) &&
          (range.end === undefined || byteOrder(key, range.end) < 0),
      )
      .slice(0, range.limit);
  }
}

/** Keys from a small alphabet: ASCII, NUL, 2- and 3-byte UTF-8, BMP above the surrogates, astral. */
const KEYS = [
  "",
  "a",
  "a\u0000",
  "ab",
  "abc",
  "a😀",
  "b",
  "Z",
  "z",
  "é",
  "éa",
  "日",
  "日本",
  "\uE000",
  "\uFFFD",
  "😀",
  "😀a",
  "😁",
  "𝄞",
];
const BOUNDS = [...KEYS, "a\u0001", "aa", "日z", "\uD7FB", "😀😀", "\u{10FFFD}"];
const PREFIXES = ["", "a", "ab", "é", "日", "\uE000", "😀", "z"];

const valueArb = fc.oneof(
  fc.constantFrom("x", "y", "0", "1", "-3", "007", "-0", "1.5", " 1", "", "9007199254740991"),
  fc.integer({ min: -50, max: 50 }).map(String),
  fc.string({ unit: "binary", maxLength: 6 }),
);
const keyArb = fc.constantFrom(...KEYS);
const commandArb: fc.Arbitrary<KvCommand> = fc.oneof(
  fc.record({ op: fc.constant("put" as const), key: keyArb, value: valueArb }),
  fc.record({ op: fc.constant("delete" as const), key: keyArb }),
  fc.record({
    op: fc.constant("cas" as const),
    key: keyArb,
    expect: fc.option(valueArb, { nil: null }),
    value: valueArb,
  }),
  fc.record({
    op: fc.constant("incr" as const),
    key: keyArb,
    delta: fc.oneof(
      fc.integer({ min: -5, max: 5 }),
      fc.constantFrom(Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER),
    ),
  }),
);
/** Batches of commands; `gap` entries after each batch carry no command (no-ops, config). */
const batchesArb = fc.array(
  fc.record({ commands: fc.array(commandArb, { maxLength: 8 }), gap: fc.nat(2) }),
  { maxLength: 10 },
);
const rangeArb: fc.Arbitrary<KvRange> = fc.record({
  prefix: fc.option(fc.constantFrom(...PREFIXES), { nil: undefined }),
  start: fc.option(fc.constantFrom(...BOUNDS), { nil: undefined }),
  end: fc.option(fc.constantFrom(...BOUNDS), { nil: undefined }),
  limit: fc.integer({ min: 1, max: 25 }),
});

type Batch = { index: number; command: KvCommand }[];

function numbered(batches: { commands: KvCommand[]; gap: number }[]) {
  let index = 0;
  return batches.map(({ commands, gap }) => {
    const batch: Batch = commands.map((command) => ({ index: ++index, command }));
    index += gap;
    return { batch, lastIndex: index };
  });
}

async function state(e: KvEngine): Promise<KvItem[]> {
  return e.scan({ limit: 1_000_000 });
}

const SEED = 20240611;
const RANGE_SEED = 77;

describe("kv engines", () => {
  test(`kv - compareKeys is UTF-8 byte order (fast-check seed ${SEED})`, () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "binary", maxLength: 6 }),
        fc.string({ unit: "binary", maxLength: 6 }),
        (a, b) => Math.sign(compareKeys(a, b)) === Math.sign(byteOrder(a, b)),
      ),
      { seed: SEED, numRuns: 2000 },
    );
    const sorted = [...KEYS].sort(compareKeys);
    expect(sorted).toEqual([...KEYS].sort(byteOrder));
  });

  test(`kv - memory and level engines agree with a reference model on random commands and scans (fast-check seed ${SEED})`, async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        batchesArb,
        fc.array(rangeArb, { minLength: 1, maxLength: 8 }),
        async (raw, ranges) => {
          const dir = await dirs.make(`kv-prop-${run++}`);
          const memory = await engine(new MemoryKvEngine());
          const level = await engine(new LevelKvEngine(join(dir, "db")));
          try {
            const model = new Model();
            const batches = numbered(raw);
            for (const { batch, lastIndex } of batches) {
              const expected = model.apply(batch, lastIndex);
              expect(await memory.applyBatch(batch, lastIndex)).toEqual(expected);
              expect(await level.applyBatch(batch, lastIndex)).toEqual(expected);
              expect(memory.appliedIndex).toBe(model.appliedIndex);
              expect(level.appliedIndex).toBe(model.appliedIndex);
            }
            const items = model.items();
            expect(await state(memory)).toEqual(items);
            expect(await state(level)).toEqual(items);
            for (const key of KEYS) {
              const value = model.values.get(key) ?? null;
              expect(await memory.get(key)).toBe(value);
              expect(await level.get(key)).toBe(value);
            }
            for (const range of ranges) {
              const expected = model.scan(range);
              expect(await memory.scan(range), JSON.stringify(range)).toEqual(expected);
              expect(await level.scan(range), JSON.stringify(range)).toEqual(expected);
            }

            // Replay (as after a restart): every command is at or below appliedIndex.
            const applied = model.appliedIndex;
            for (const { batch, lastIndex } of batches) {
              await memory.applyBatch(batch, lastIndex);
              await level.applyBatch(batch, lastIndex);
            }
            expect(await state(memory)).toEqual(items);
            expect(await state(level)).toEqual(items);
            expect(memory.appliedIndex).toBe(applied);
            expect(level.appliedIndex).toBe(applied);
          } finally {
            await close(memory);
            await close(level);
            await rm(dir, { recursive: true, force: true });
          }
        },
      ),
      { seed: SEED, numRuns: 60 },
    );
  });

  test(`kv - scans over a fixed key set agree with the model for every prefix/start/end/limit (fast-check seed ${RANGE_SEED})`, async () => {
    const dir = await dirs.make("kv-scan");
    const memory = await engine(new MemoryKvEngine());
    const level = await engine(new LevelKvEngine(dir));
    const model = new Model();
    const batch = KEYS.map((key, k) => ({
      index: k + 1,
      command: { op: "put", key, value: `v${k}` } as KvCommand,
    }));
    model.apply(batch, batch.length);
    await memory.applyBatch(batch, batch.length);
    await level.applyBatch(batch, batch.length);
    await fc.assert(
      fc.asyncProperty(rangeArb, async (range) => {
        const expected = model.scan(range);
        expect(await memory.scan(range)).toEqual(expected);
        expect(await level.scan(range)).toEqual(expected);
      }),
      { seed: RANGE_SEED, numRuns: 400 },
    );
  });

  test("kv - incr of a non-integer value returns not-integer and changes nothing", async () => {
    const dir = await dirs.make("kv-incr");
    for (const e of [new MemoryKvEngine(), new LevelKvEngine(dir)]) {
      await engine(e);
      const bad = ["abc", "1.5", "", " 1", "1e3", "0x10", "12abc", "٣"];
      const puts = bad.map((value, k) => ({
        index: k + 1,
        command: { op: "put", key: `k${k}`, value } as KvCommand,
      }));
      await e.applyBatch(puts, puts.length);
      const before = await state(e);
      const incrs = bad.map((_, k) => ({
        index: puts.length + k + 1,
        command: { op: "incr", key: `k${k}`, delta: 1 } as KvCommand,
      }));
      const results = await e.applyBatch(incrs, puts.length + incrs.length);
      expect(results, e.name).toEqual(
        bad.map((value) => ({ op: "incr", error: "not-integer", value })),
      );
      expect(await state(e), e.name).toEqual(before);
      expect(e.appliedIndex, e.name).toBe(puts.length + incrs.length);

      // Overflow past the safe integers is refused the same way; an absent key counts from 0.
      let index = e.appliedIndex;
      const max = String(Number.MAX_SAFE_INTEGER);
      const more = [
        { index: ++index, command: { op: "put", key: "max", value: max } as KvCommand },
        { index: ++index, command: { op: "incr", key: "max", delta: 1 } as KvCommand },
        { index: ++index, command: { op: "incr", key: "fresh", delta: -4 } as KvCommand },
        { index: ++index, command: { op: "incr", key: "fresh", delta: 10 } as KvCommand },
      ];
      expect(await e.applyBatch(more, index), e.name).toEqual([
        { op: "put" },
        { op: "incr", error: "not-integer", value: max },
        { op: "incr", value: -4 },
        { op: "incr", value: 6 },
      ]);
      expect(await e.get("max"), e.name).toBe(max);
      expect(await e.get("fresh"), e.name).toBe("6");
      await close(e);
    }
  });

  test("kv - a batch reads its own writes and a replayed batch changes nothing", async () => {
    const dir = await dirs.make("kv-replay");
    for (const e of [new MemoryKvEngine(), new LevelKvEngine(dir)]) {
      await engine(e);
      const batch: Batch = [
        { index: 1, command: { op: "put", key: "😀", value: "1" } },
        { index: 2, command: { op: "incr", key: "😀", delta: 2 } },
        { index: 3, command: { op: "cas", key: "😀", expect: "3", value: "x" } },
        { index: 4, command: { op: "delete", key: "😀" } },
        { index: 5, command: { op: "cas", key: "😀", expect: null, value: "y" } },
      ];
      expect(await e.applyBatch(batch, 6), e.name).toEqual([
        { op: "put" },
        { op: "incr", value: 3 },
        { op: "cas", succeeded: true, value: "x" },
        { op: "delete", deleted: true },
        { op: "cas", succeeded: true, value: "y" },
      ]);
      await e.applyBatch(batch.slice(0, 2), 2);
      await e.applyBatch(batch, 6);
      expect(await state(e), e.name).toEqual([{ key: "😀", value: "y" }]);
      expect(e.appliedIndex, e.name).toBe(6);
      await close(e);
    }
  });

  test("kv - prefix scans whose prefix ends in U+FFFF, U+D7FF or an astral code point with low surrogate DFFF (e.g. 🏿 U+1F3FF)", async () => {
    const dir = await dirs.make("kv-prefix-edge");
    const memory = await engine(new MemoryKvEngine());
    const level = await engine(new LevelKvEngine(dir));
    const model = new Model();
    const keys = [
      "👍🏾",
      "👍🏿",
      "👍🏿x",
      "👍🐀",
      "\uD7FF",
      "\uD7FFx",
      "\uE000",
      "\uFFFD",
      "\uFFFF",
      "\uFFFFa",
      "𐀀",
    ];
    const batch: Batch = keys.map((key, k) => ({
      index: k + 1,
      command: { op: "put", key, value: `${k}` },
    }));
    model.apply(batch, batch.length);
    await memory.applyBatch(batch, batch.length);
    await level.applyBatch(batch, batch.length);
    for (const prefix of ["👍🏿", "\uFFFF", "\uD7FF", "👍"]) {
      const range = { prefix, limit: 100 };
      const expected = model.scan(range);
      expect(expected.length, `prefix ${JSON.stringify(prefix)}`).toBeGreaterThan(0);
      expect
        .soft(await memory.scan(range), `memory, prefix ${JSON.stringify(prefix)}`)
        .toEqual(expected);
      expect
        .soft(await level.scan(range), `level, prefix ${JSON.stringify(prefix)}`)
        .toEqual(expected);
    }
  });

  test("kv - lone surrogates never reach an engine: the protocol refuses them", () => {
    // Engines store UTF-8, which has no form for a lone surrogate (it would become U+FFFD and
    // replicas could diverge), so the gateway refuses such strings in every field.
    for (const frame of [
      { id: 1, op: "put", key: "x\uD800y", value: "v" },
      { id: 2, op: "put", key: "k", value: "\uDC00" },
      { id: 3, op: "cas", key: "k", expect: "a\uD800", value: "v" },
      { id: 4, op: "scan", prefix: "\uD83D" },
    ]) {
      const decoded = decodeRequest(JSON.stringify(frame));
      expect(decoded.ok, JSON.stringify(frame)).toBe(false);
      if (!decoded.ok) expect(decoded.error.code).toBe("BAD_REQUEST");
    }
    // A well-formed astral character is fine.
    expect(decodeRequest(JSON.stringify({ id: 5, op: "put", key: "😀", value: "𝄞" })).ok).toBe(
      true,
    );
  });

  test("kv - level engine survives close/reopen with its data and appliedIndex", async () => {
    const dir = await dirs.make("kv-reopen");
    let level = await engine(new LevelKvEngine(dir));
    const batch: Batch = [
      { index: 1, command: { op: "put", key: "a", value: "1" } },
      { index: 2, command: { op: "put", key: "😀", value: "ü" } },
      { index: 3, command: { op: "incr", key: "a", delta: 41 } },
    ];
    await level.applyBatch(batch, 4);
    await close(level);
    level = await engine(new LevelKvEngine(dir));
    expect(level.appliedIndex).toBe(4);
    expect(await state(level)).toEqual([
      { key: "a", value: "42" },
      { key: "😀", value: "ü" },
    ]);
    // Replaying the log from the start after the restart is harmless.
    await level.applyBatch(batch, 4);
    expect(await level.get("a")).toBe("42");
    expect(level.stats()).toMatchObject({ appliedIndex: 4, commandsApplied: 0 });
  });
});

describe("kv checkpoints", () => {
  /** A state with every key of the alphabet and some awkward values. */
  function fill(): Batch {
    return KEYS.map((key, k) => ({
      index: k + 1,
      command: { op: "put", key, value: k % 3 === 0 ? "" : `välue-${k}-😀-${"x".repeat(k * 7)}` },
    }));
  }

  test.each(["memory", "level"] as const)(
    "kv - a %s checkpoint holds the state at the call, not the writes applied while it is written",
    async (kind) => {
      const dir = await dirs.make(`kv-pin-${kind}`);
      const subject = await engine(
        kind === "memory" ? new MemoryKvEngine() : new LevelKvEngine(join(dir, "db")),
      );
      const batch = fill();
      await subject.applyBatch(batch, batch.length);
      const expected = await state(subject);
      const path = join(dir, "pinned.ckpt");
      const written = subject.checkpoint(path);
      // The apply stage goes on while the file is written: overwrite, delete, add.
      const later: Batch = [
        { index: batch.length + 1, command: { op: "put", key: KEYS[1]!, value: "changed" } },
        { index: batch.length + 2, command: { op: "delete", key: KEYS[2]! } },
        { index: batch.length + 3, command: { op: "put", key: "zz-new", value: "new" } },
      ];
      await subject.applyBatch(later, batch.length + 3);
      await written;
      const restored = await engine(new MemoryKvEngine());
      await restored.restore(path, batch.length);
      expect(await state(restored)).toEqual(expected);
      expect(await subject.get("zz-new")).toBe("new");
    },
  );

  test.each(["memory", "level"] as const)(
    "kv - a %s checkpoint abandoned by its signal rejects, and the engine goes on",
    async (kind) => {
      const dir = await dirs.make(`kv-abort-${kind}`);
      const subject = await engine(
        kind === "memory" ? new MemoryKvEngine() : new LevelKvEngine(join(dir, "db")),
      );
      const batch = fill();
      await subject.applyBatch(batch, batch.length);
      const stopping = new AbortController();
      stopping.abort();
      await expect(
        subject.checkpoint(join(dir, "abandoned.ckpt"), stopping.signal),
      ).rejects.toThrow(/aborted/);
      // The iterator is released: the engine applies, reads, checkpoints and closes as before.
      await subject.applyBatch(
        [{ index: batch.length + 1, command: { op: "put", key: "after", value: "1" } }],
        batch.length + 1,
      );
      expect(await subject.get("after")).toBe("1");
      expect(await subject.checkpoint(join(dir, "whole.ckpt"))).toBeGreaterThan(0);
      await close(subject);
    },
  );

  test("kv - checkpoint then restore into a fresh engine of the other kind gives the same state", async () => {
    const dir = await dirs.make("kv-ckpt");
    const memory = await engine(new MemoryKvEngine());
    const level = await engine(new LevelKvEngine(join(dir, "level")));
    const batch = fill();
    await memory.applyBatch(batch, batch.length);
    await level.applyBatch(batch, batch.length);
    const expected = await state(memory);
    expect(expected).toHaveLength(KEYS.length);

    const fromMemory = join(dir, "memory.ckpt");
    const size = await memory.checkpoint(fromMemory);
    expect(size).toBe((await stat(fromMemory)).size);
    const level2 = await engine(new LevelKvEngine(join(dir, "level2")));
    await level2.restore(fromMemory, 99);
    expect(level2.appliedIndex).toBe(99);
    expect(await state(level2)).toEqual(expected);
    await close(level2);
    const reopened = await engine(new LevelKvEngine(join(dir, "level2")));
    expect(reopened.appliedIndex).toBe(99);
    expect(await state(reopened)).toEqual(expected);

    const fromLevel = join(dir, "level.ckpt");
    expect(await level.checkpoint(fromLevel)).toBe((await stat(fromLevel)).size);
    const memory2 = await engine(new MemoryKvEngine());
    await memory2.restore(fromLevel, 77);
    expect(memory2.appliedIndex).toBe(77);
    expect(await state(memory2)).toEqual(expected);

    // An empty state round-trips too.
    const empty = join(dir, "empty.ckpt");
    await new MemoryKvEngine().checkpoint(empty);
    await memory2.restore(empty, 100);
    expect(await state(memory2)).toEqual([]);
  });

  test("kv - a checkpoint with any byte flipped, or truncated, is rejected by restore (CheckpointCorruptError)", async () => {
    const dir = await dirs.make("kv-ckpt-bad");
    const memory = await engine(new MemoryKvEngine());
    const batch = fill().slice(0, 6);
    await memory.applyBatch(batch, batch.length);
    const path = join(dir, "good.ckpt");
    await memory.checkpoint(path);
    const good = new Uint8Array(await readFile(path));
    const target = await engine(new MemoryKvEngine());
    await target.applyBatch([{ index: 1, command: { op: "put", key: "keep", value: "me" } }], 5);
    const bad = join(dir, "bad.ckpt");
    for (let at = 0; at < good.length; at++) {
      const copy = good.slice();
      copy[at]! ^= 0x01;
      await writeFile(bad, copy);
      await expect(target.restore(bad, 50), `byte ${at} flipped`).rejects.toThrow(
        CheckpointCorruptError,
      );
    }
    for (const length of [0, 5, 6, 17, good.length - 12, good.length - 1]) {
      await writeFile(bad, good.slice(0, length));
      await expect(target.restore(bad, 50), `truncated to ${length}`).rejects.toThrow(
        CheckpointCorruptError,
      );
    }
    // A refused restore leaves the engine as it was.
    expect(await state(target)).toEqual([{ key: "keep", value: "me" }]);
    expect(target.appliedIndex).toBe(5);
  });

  test("kv - level engine: a refused restore leaves its state and appliedIndex as they were", async () => {
    const dir = await dirs.make("kv-ckpt-level");
    const level = await engine(new LevelKvEngine(join(dir, "db")));
    await level.applyBatch([{ index: 1, command: { op: "put", key: "keep", value: "me" } }], 5);
    const memory = await engine(new MemoryKvEngine());
    await memory.applyBatch(fill(), KEYS.length);
    const path = join(dir, "c.ckpt");
    await memory.checkpoint(path);
    const copy = new Uint8Array(await readFile(path));
    copy[20]! ^= 0x01;
    await writeFile(path, copy);
    await expect(level.restore(path, 50)).rejects.toThrow(CheckpointCorruptError);
    expect(level.appliedIndex).toBe(5);
    expect(await state(level)).toEqual([{ key: "keep", value: "me" }]);
    await close(level);
    const reopened = await engine(new LevelKvEngine(join(dir, "db")));
    expect(reopened.appliedIndex).toBe(5);
    expect(await state(reopened)).toEqual([{ key: "keep", value: "me" }]);
  });
});
