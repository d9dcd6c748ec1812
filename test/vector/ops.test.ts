/**
 * The vector ops of CONTRACT §6 on one store: batches (all or nothing), get, count, scroll,
 * meta updates, deletes by keys and filter, drop and recreate, zero vectors in cosine
 * collections, and search's options (several queries, offset, scoreThreshold, withVector).
 */
import { describe, expect, it } from "vitest";
import { readVector } from "../../stages/apply/vector-commands.js";
import { parseFilter } from "../../storage/engines/vector-filter.js";
import type { VectorCommand } from "../../storage/engines/vector-store.js";
import { engines, ok, points, read, storeWith } from "./ops-helpers.js";

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
