/**
 * The vector ops of CONTRACT §6 on one store: batches (all or nothing), get, count, scroll,
 * meta updates, deletes by keys and filter, drop and recreate, zero vectors in cosine
 * collections, and the log encoding of the new commands (old entries still decode).
 */

import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Packr } from "msgpackr";
import { describe, expect, it, onTestFinished } from "vitest";
import { decodeCommand, encodeCommand, type LogCommand } from "../../stages/apply/commands.js";
import { readVector } from "../../stages/apply/vector-commands.js";
import type { ReplyBody } from "../../stages/items.js";
import { parseFilter } from "../../storage/engines/vector-filter.js";
import {
  type Meta,
  type VectorCommand,
  type VectorResult,
  VectorStore,
} from "../../storage/engines/vector-store.js";
import { prng } from "./data.js";

const engines = ["hnsw", "flat"] as const;

function ok(result: VectorResult): VectorResult {
  if (!result.ok) throw new Error(`${result.error}: ${result.message}`);
  return result;
}

function read(store: VectorStore, request: Record<string, unknown>): Record<string, unknown> {
  const reply: ReplyBody = readVector(
    store,
    { consistency: "linearizable", ...request } as Parameters<typeof readVector>[1],
    7,
  );
  if (!reply.ok) throw new Error(`${reply.error.code}: ${reply.error.message}`);
  return reply.result as Record<string, unknown>;
}

function storeWith(engine: (typeof engines)[number], metric: "l2" | "cosine" = "l2") {
  const store = new VectorStore();
  ok(store.apply({ op: "vcreate", collection: "c", dim: 2, metric, engine }));
  return store;
}

const points = (n: number, meta: (k: number) => Meta | undefined = () => undefined) =>
  Array.from({ length: n }, (_, k) => ({
    key: `p${String(k).padStart(2, "0")}`,
    vector: [k + 1, 1],
    ...(meta(k) !== undefined ? { meta: meta(k)! } : {}),
  }));

describe.each(engines)("vector ops - %s", (engine) => {
  it("vput batch: all or nothing, the bad point named by its position", () => {
    const store = storeWith(engine, "cosine");
    expect(store.apply({ op: "vput", collection: "c", points: points(3) })).toEqual({
      ok: true,
      op: "vput",
      count: 3,
    });
    const bad: VectorCommand = {
      op: "vput",
      collection: "c",
      points: [
        { key: "p00", vector: [9, 9], meta: { changed: true } },
        { key: "new", vector: [1, 2] },
        { key: "zero", vector: [0, 0] },
      ],
    };
    const refused = store.apply(bad);
    expect(refused.ok).toBe(false);
    if (!refused.ok) {
      expect(refused.error).toBe("invalid");
      expect(refused.message).toMatch(/points\[2\]\.vector.*zero/);
    }
    const wrongDim = store.apply({
      op: "vput",
      collection: "c",
      points: [
        { key: "x", vector: [1, 2] },
        { key: "y", vector: [1, 2, 3] },
      ],
    });
    expect(!wrongDim.ok && wrongDim.message).toMatch(/points\[1\]\.vector.*3 dimensions/);
    // Nothing of either batch was applied.
    expect(read(store, { op: "vcount", collection: "c" }).count).toBe(3);
    expect(read(store, { op: "vget", collection: "c", keys: ["p00", "new", "x"] })).toEqual({
      points: [{ key: "p00", meta: null }],
      index: 7,
    });
  });

  it("cosine refuses the zero vector in vput and in vsearch", () => {
    const store = storeWith(engine, "cosine");
    const put = store.apply({ op: "vput", collection: "c", key: "z", vector: [0, 0] });
    expect(!put.ok && put.message).toMatch(/"vector" is the zero vector/);
    const search = readVector(
      store,
      { op: "vsearch", collection: "c", vector: [0, 0], k: 1, consistency: "linearizable" },
      1,
    );
    expect(search.ok).toBe(false);
    if (!search.ok) expect(search.error.code).toBe("BAD_REQUEST");
    // l2 takes it.
    const l2 = storeWith(engine, "l2");
    ok(l2.apply({ op: "vput", collection: "c", key: "z", vector: [0, 0] }));
  });

  it("vget with and without vectors; absent keys left out; order of the request", () => {
    const store = storeWith(engine);
    ok(store.apply({ op: "vput", collection: "c", points: points(3, (k) => ({ k })) }));
    expect(
      read(store, { op: "vget", collection: "c", keys: ["p02", "none", "p00"], withVector: true }),
    ).toEqual({
      points: [
        { key: "p02", vector: [3, 1], meta: { k: 2 } },
        { key: "p00", vector: [1, 1], meta: { k: 0 } },
      ],
      index: 7,
    });
  });

  it("vset-meta replaces or merges; an unknown key is not found", () => {
    const store = storeWith(engine);
    ok(
      store.apply({ op: "vput", collection: "c", key: "a", vector: [1, 2], meta: { x: 1, y: 2 } }),
    );
    ok(
      store.apply({
        op: "vset-meta",
        collection: "c",
        key: "a",
        meta: { y: 3, z: 4 },
        merge: true,
      }),
    );
    expect(read(store, { op: "vget", collection: "c", keys: ["a"] }).points).toEqual([
      { key: "a", meta: { x: 1, y: 3, z: 4 } },
    ]);
    ok(
      store.apply({
        op: "vset-meta",
        collection: "c",
        key: "a",
        meta: { only: true },
        merge: false,
      }),
    );
    expect(read(store, { op: "vget", collection: "c", keys: ["a"] }).points).toEqual([
      { key: "a", meta: { only: true } },
    ]);
    const missing = store.apply({
      op: "vset-meta",
      collection: "c",
      key: "b",
      meta: {},
      merge: false,
    });
    expect(!missing.ok && missing.error).toBe("not-found");
    // The vector is untouched.
    expect(
      read(store, { op: "vget", collection: "c", keys: ["a"], withVector: true }).points,
    ).toEqual([{ key: "a", vector: [1, 2], meta: { only: true } }]);
  });

  it("vdelete by key (bool), by keys and by filter (counts)", () => {
    const store = storeWith(engine);
    ok(
      store.apply({
        op: "vput",
        collection: "c",
        points: points(10, (k) => ({ even: k % 2 === 0 })),
      }),
    );
    expect(store.apply({ op: "vdelete", collection: "c", key: "p00" })).toEqual({
      ok: true,
      op: "vdelete",
      deleted: true,
    });
    expect(store.apply({ op: "vdelete", collection: "c", keys: ["p00", "p01", "p03"] })).toEqual({
      ok: true,
      op: "vdelete",
      deleted: 2,
    });
    const byFilter = store.apply({
      op: "vdelete",
      collection: "c",
      filter: parseFilter({ must: [{ key: "even", match: true }] }),
    });
    expect(byFilter).toEqual({ ok: true, op: "vdelete", deleted: 4 });
    expect(read(store, { op: "vscroll", collection: "c", limit: 100 })).toEqual({
      points: ["p05", "p07", "p09"].map((key) => ({ key, meta: { even: false } })),
      cursor: null,
      index: 7,
    });
    const hits = read(store, { op: "vsearch", collection: "c", vector: [0, 1], k: 10 }).hits;
    expect((hits as { key: string }[]).map((hit) => hit.key)).toEqual(["p05", "p07", "p09"]);
  });

  it("vscroll pages through the keys in order with a cursor, filter optional", () => {
    const store = storeWith(engine);
    ok(store.apply({ op: "vput", collection: "c", points: points(25, (k) => ({ k })).reverse() }));
    const seen: string[] = [];
    let cursor: string | null | undefined;
    do {
      const page = read(store, {
        op: "vscroll",
        collection: "c",
        limit: 10,
        ...(cursor ? { cursor } : {}),
      }) as { points: { key: string }[]; cursor: string | null };
      expect(page.points.length).toBeLessThanOrEqual(10);
      seen.push(...page.points.map((point) => point.key));
      cursor = page.cursor;
    } while (cursor !== null);
    expect(seen).toEqual(points(25).map((point) => point.key));
    const filtered = read(store, {
      op: "vscroll",
      collection: "c",
      limit: 2,
      filter: parseFilter({ must: [{ key: "k", range: { gte: 20 } }] }),
    });
    expect(filtered).toEqual({
      points: [
        { key: "p20", meta: { k: 20 } },
        { key: "p21", meta: { k: 21 } },
      ],
      cursor: "p22",
      index: 7,
    });
  });

  it("vdrop frees the collection; recreating it starts empty; vlist and vinfo follow", () => {
    const store = storeWith(engine);
    ok(store.apply({ op: "vcreate", collection: "b", dim: 3, metric: "ip", engine }));
    ok(store.apply({ op: "vput", collection: "c", points: points(5) }));
    expect(read(store, { op: "vlist" }).collections).toEqual(["b", "c"]);
    const info = read(store, { op: "vinfo", collection: "c" });
    expect(info).toMatchObject({ dim: 2, metric: "l2", engine, count: 5 });
    expect(info.indexBytes).toBeGreaterThan(5 * 2 * 4);
    expect(store.apply({ op: "vdrop", collection: "c" })).toEqual({
      ok: true,
      op: "vdrop",
      dropped: true,
    });
    expect(store.apply({ op: "vdrop", collection: "c" })).toEqual({
      ok: true,
      op: "vdrop",
      dropped: false,
    });
    expect(read(store, { op: "vlist" }).collections).toEqual(["b"]);
    const gone = readVector(store, { op: "vinfo", collection: "c", consistency: "stale" }, 1);
    expect(!gone.ok && gone.error.code).toBe("NOT_FOUND");
    ok(store.apply({ op: "vcreate", collection: "c", dim: 4, metric: "cosine", engine }));
    expect(read(store, { op: "vinfo", collection: "c" })).toMatchObject({ dim: 4, count: 0 });
    expect(read(store, { op: "vget", collection: "c", keys: ["p00"] }).points).toEqual([]);
  });

  it("vsearch: several queries, offset, scoreThreshold, withVector", () => {
    const store = storeWith(engine);
    ok(store.apply({ op: "vput", collection: "c", points: points(6) }));
    const all = read(store, { op: "vsearch", collection: "c", vector: [1, 1], k: 6 }).hits as {
      key: string;
      score: number;
    }[];
    expect(all.map((hit) => hit.score)).toEqual([0, 1, 4, 9, 16, 25]);
    const some = read(store, {
      op: "vsearch",
      collection: "c",
      vectors: [
        [1, 1],
        [6, 1],
      ],
      k: 2,
      offset: 1,
      scoreThreshold: 1,
      withVector: true,
    });
    expect(some).toEqual({
      results: [
        { hits: [{ key: "p01", score: 1, meta: null, vector: [2, 1] }] },
        { hits: [{ key: "p04", score: 1, meta: null, vector: [5, 1] }] },
      ],
      index: 7,
    });
  });
});

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
