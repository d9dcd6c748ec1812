/**
 * How vector commands are applied and stored: batches that give the event loop back, index
 * files written in the background while changes queue and replay, and the log encoding of the
 * new commands (entries written before batches still decode).
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Packr } from "msgpackr";
import { describe, expect, it, onTestFinished } from "vitest";
import { decodeCommand, encodeCommand, type LogCommand } from "../../stages/apply/commands.js";
import { parseFilter } from "../../storage/engines/vector-filter.js";
import { type Meta, type VectorCommand, VectorStore } from "../../storage/engines/vector-store.js";
import { prng } from "./data.js";
import { ok, points, read } from "./ops-helpers.js";

describe("vector ops - applyYielding", () => {
  it("gives the event loop back within a batch and ends in the same state as apply()", async () => {
    const dir = await mkdtemp(join(tmpdir(), "stageraft-yield-"));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const stores = [new VectorStore(), new VectorStore()];
    for (const store of stores)
      ok(store.apply({ op: "vcreate", collection: "c", dim: 2, metric: "l2" }));
    const batch: VectorCommand = {
      op: "vput",
      collection: "c",
      points: points(100, (k) => ({ k })),
    };
    ok(stores[0]!.apply(batch));
    let ranBetween = false;
    setImmediate(() => {
      ranBetween = true;
    });
    const result = await stores[1]!.applyYielding(batch);
    expect(result).toEqual({ ok: true, op: "vput", count: 100 });
    expect(ranBetween, "a callback queued before the batch ran before it finished").toBe(true);
    const files = [];
    for (const [k, store] of stores.entries()) {
      await store.checkpoint(join(dir, String(k)));
      files.push(await readFile(join(dir, String(k), "0.hnsw")));
    }
    expect(files[1]!.equals(files[0]!), "byte-identical graphs").toBe(true);
    // A bad batch is still refused whole.
    const bad = await stores[1]!.applyYielding({
      op: "vput",
      collection: "c",
      points: [...points(40), { key: "x", vector: [1] }],
    });
    expect(!bad.ok && bad.message).toMatch(/points\[40\]/);
  });
});

describe("vector ops - checkpoints in the background", () => {
  it("changes during a checkpoint queue up and replay: same state, same files, reads wait", async () => {
    const dir = await mkdtemp(join(tmpdir(), "stageraft-bg-"));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const random = prng(0xbac6_0001);
    const vector = () => Array.from({ length: 8 }, () => random() * 10);
    const first = Array.from({ length: 200 }, (_, k) => ({ key: `a${k}`, vector: vector() }));
    const later: VectorCommand[] = [
      {
        op: "vput",
        collection: "c",
        points: [
          ...Array.from({ length: 100 }, (_, k) => ({ key: `b${k}`, vector: vector() })),
          ...first.slice(0, 10).map((point) => ({ ...point, vector: vector() })),
        ],
      },
      { op: "vdelete", collection: "c", keys: ["a20", "a21", "b3"] },
    ];
    const background = new VectorStore();
    const inline = new VectorStore();
    for (const store of [background, inline]) {
      ok(store.apply({ op: "vcreate", collection: "c", dim: 8, metric: "l2", engine: "hnsw" }));
      ok(store.apply({ op: "vput", collection: "c", points: first }));
    }
    const { written } = await background.beginCheckpoint(join(dir, "bg"));
    for (const command of later) ok(background.apply(command));
    // Applied, but the graph has not taken the changes yet: they wait for the file.
    expect(background.stats().vectors).toBe(200);
    const search = { op: "vsearch", collection: "c", vector: vector(), k: 20 };
    await written;
    await background.ready();
    await inline.checkpoint(join(dir, "inline"));
    for (const command of later) ok(inline.apply(command));
    expect(background.stats().vectors).toBe(297);
    expect(read(background, search)).toEqual(read(inline, search));
    const files = [];
    for (const name of ["bg", "inline"])
      files.push(
        await readFile(join(dir, name, "0.hnsw")),
        await readFile(join(dir, name, "manifest.json")),
      );
    expect(files[0]!.equals(files[2]!) && files[1]!.equals(files[3]!), "the first files").toBe(
      true,
    );
    await background.checkpoint(join(dir, "bg2"));
    await inline.checkpoint(join(dir, "inline2"));
    const again = await Promise.all(
      ["bg2", "inline2"].map((name) => readFile(join(dir, name, "0.hnsw"))),
    );
    expect(again[0]!.equals(again[1]!), "byte-identical graphs after the replay").toBe(true);
  });
});

describe("vector ops - log encoding", () => {
  const packr = new Packr({ useRecords: false, mapsAsObjects: true });

  it("a batch, a meta update, a delete by filter and a drop come back out of the log intact", () => {
    const meta = JSON.parse('{"__proto__":{"__proto__":1},"a":{"b":[1,"x",null]}}') as Meta;
    const commands: VectorCommand[] = [
      {
        op: "vput",
        collection: "c",
        points: [
          { key: "a", vector: Float32Array.from([0.5, -1]), meta },
          { key: "b", vector: Float32Array.from([3, 4]) },
        ],
      },
      { op: "vset-meta", collection: "c", key: "a", meta, merge: true },
      {
        op: "vdelete",
        collection: "c",
        filter: parseFilter({ should: [{ key: "a.b", matchAny: ["x"] }], mustNot: [] }),
      },
      { op: "vdelete", collection: "c", keys: ["a", "b"] },
      { op: "vdrop", collection: "c" },
    ];
    for (const vec of commands) {
      const command: LogCommand = { vec, session: { id: "s", seq: 2 }, ts: 5 };
      const back = decodeCommand(encodeCommand(command));
      expect(back).toEqual(command);
      // toEqual reads own "__proto__" fields loosely: compare their text too.
      const text = (c: LogCommand) => JSON.stringify(c.vec && "meta" in c.vec ? c.vec.meta : null);
      expect(text(back)).toBe(text(command));
    }
  });

  it("entries written before batches still decode (meta and metaPairs forms)", () => {
    const old = packr.pack({
      vec: { op: "vput", collection: "c", key: "k", vector: [1, 2], meta: { a: 1 } },
      ts: 1,
    });
    expect(decodeCommand(old).vec).toEqual({
      op: "vput",
      collection: "c",
      key: "k",
      vector: [1, 2],
      meta: { a: 1 },
    });
    const pairs = packr.pack({
      vec: { op: "vput", collection: "c", key: "k", vector: [1, 2], metaPairs: [["__proto__", 1]] },
      ts: 1,
    });
    expect(JSON.stringify(decodeCommand(pairs).vec)).toBe(
      '{"op":"vput","collection":"c","key":"k","vector":[1,2],"meta":{"__proto__":1}}',
    );
    const store = new VectorStore();
    ok(store.apply({ op: "vcreate", collection: "c", dim: 2, metric: "l2" }));
    expect(store.apply(decodeCommand(pairs).vec!)).toEqual({ ok: true, op: "vput", count: 1 });
  });
});
