/**
 * The gateway's checks for the vector ops of CONTRACT §6: each op's fields with their exact
 * names, and every kind of bad input answered BAD_REQUEST (or TOO_LARGE) naming the field.
 */
import { describe, expect, it } from "vitest";
import { defaultProtocolLimits } from "../../stages/protocol.js";
import { decodeRequest } from "../../stages/protocol-decode.js";

function decode(frame: Record<string, unknown>) {
  return decodeRequest(JSON.stringify({ id: 1, ...frame }), defaultProtocolLimits);
}

function accepted(frame: Record<string, unknown>): Record<string, unknown> {
  const result = decode(frame);
  if (!result.ok) throw new Error(`refused ${JSON.stringify(frame)}: ${result.error.message}`);
  return result.request as unknown as Record<string, unknown>;
}

/** The error's code and message (the message must name `field`). */
function refused(frame: Record<string, unknown>, field: string, code = "BAD_REQUEST"): void {
  const result = decode(frame);
  if (result.ok) throw new Error(`accepted ${JSON.stringify(frame).slice(0, 200)}`);
  expect(result.error.code, result.error.message).toBe(code);
  expect(result.error.message, JSON.stringify(frame).slice(0, 200)).toContain(field);
}

const c = { collection: "c" };

describe("protocol - vector ops of CONTRACT §6", () => {
  it("vput batch: points [{key, vector, meta?}], bad points named by position", () => {
    const points = [
      { key: "a", vector: [1, 2], meta: { n: { m: [1] } } },
      { key: "b", vector: [3, 4] },
    ];
    expect(accepted({ op: "vput", ...c, points })).toEqual({ op: "vput", ...c, points });
    refused({ op: "vput", ...c, points: [] }, '"points"');
    refused({ op: "vput", ...c, points: "x" }, '"points"');
    refused({ op: "vput", ...c, points: [points[0], 7] }, '"points[1]"');
    refused(
      { op: "vput", ...c, points: [points[0], { key: "", vector: [1, 2] }] },
      '"points[1].key"',
    );
    refused({ op: "vput", ...c, points: [points[0], { key: "x" }] }, '"points[1].vector"');
    refused(
      { op: "vput", ...c, points: [points[0], { key: "x", vector: [1, "2"] }] },
      '"points[1].vector"',
    );
    refused(
      { op: "vput", ...c, points: [points[0], { key: "x", vector: [1, 2, 3] }] },
      '"points[1].vector"',
    );
    refused(
      { op: "vput", ...c, points: [{ key: "x", vector: [1, 2], meta: [] }] },
      '"points[0].meta"',
    );
    refused({ op: "vput", ...c, points, key: "a" }, '"points"');
    refused(
      { op: "vput", ...c, points: [{ key: "x", vector: [1], meta: { s: "m".repeat(70_000) } }] },
      '"points[0].meta"',
      "TOO_LARGE",
    );
    const many = Array.from({ length: 4097 }, (_, k) => ({ key: `k${k}`, vector: [1] }));
    refused({ op: "vput", ...c, points: many }, '"points"');
  });

  it("vget: keys, withVector?", () => {
    expect(accepted({ op: "vget", ...c, keys: ["a"] })).toEqual({
      op: "vget",
      ...c,
      keys: ["a"],
      withVector: false,
      consistency: "linearizable",
    });
    expect(accepted({ op: "vget", ...c, keys: ["a"], withVector: true })).toMatchObject({
      withVector: true,
    });
    refused({ op: "vget", ...c }, '"keys"');
    refused({ op: "vget", ...c, keys: [] }, '"keys"');
    refused({ op: "vget", ...c, keys: ["a", 3] }, '"keys[1]"');
    refused({ op: "vget", ...c, keys: ["a"], withVector: "yes" }, '"withVector"');
    refused({ op: "vget", keys: ["a"] }, '"collection"');
  });

  it("vcount and vscroll: filter?, limit?, cursor?", () => {
    expect(accepted({ op: "vcount", ...c })).toEqual({
      op: "vcount",
      ...c,
      consistency: "linearizable",
    });
    expect(accepted({ op: "vscroll", ...c, cursor: null })).toEqual({
      op: "vscroll",
      ...c,
      limit: 100,
      consistency: "linearizable",
    });
    expect(accepted({ op: "vscroll", ...c, limit: 5, cursor: "k" })).toMatchObject({
      limit: 5,
      cursor: "k",
    });
    refused({ op: "vscroll", ...c, limit: 0 }, '"limit"');
    refused({ op: "vscroll", ...c, limit: 10_001 }, '"limit"');
    refused({ op: "vscroll", ...c, cursor: 5 }, '"cursor"');
    refused({ op: "vcount", ...c, filter: { must: [{ key: "a" }] } }, "filter.must[0]");
  });

  it("vset-meta: key, meta, merge?", () => {
    expect(accepted({ op: "vset-meta", ...c, key: "a", meta: { x: 1 } })).toEqual({
      op: "vset-meta",
      ...c,
      key: "a",
      meta: { x: 1 },
      merge: false,
    });
    refused({ op: "vset-meta", ...c, key: "a" }, '"meta"');
    refused({ op: "vset-meta", ...c, key: "a", meta: 3 }, '"meta"');
    refused({ op: "vset-meta", ...c, meta: {} }, '"key"');
    refused({ op: "vset-meta", ...c, key: "a", meta: {}, merge: 1 }, '"merge"');
  });

  it("vdelete: exactly one of key, keys, filter", () => {
    expect(accepted({ op: "vdelete", ...c, keys: ["a", "b"] })).toEqual({
      op: "vdelete",
      ...c,
      keys: ["a", "b"],
    });
    expect(
      accepted({ op: "vdelete", ...c, filter: { must: [{ key: "t", exists: true }] } }),
    ).toEqual({
      op: "vdelete",
      ...c,
      filter: { must: [{ key: "t", exists: true }] },
    });
    refused({ op: "vdelete", ...c }, '"key", "keys", "filter"');
    refused({ op: "vdelete", ...c, key: "a", keys: ["b"] }, '"key", "keys", "filter"');
    refused({ op: "vdelete", ...c, filter: { must: "x" } }, "filter.must");
  });

  it("vlist, vinfo, vdrop", () => {
    expect(accepted({ op: "vlist" })).toEqual({ op: "vlist", consistency: "linearizable" });
    expect(accepted({ op: "vinfo", ...c, consistency: "stale" })).toEqual({
      op: "vinfo",
      ...c,
      consistency: "stale",
    });
    expect(accepted({ op: "vdrop", ...c })).toEqual({ op: "vdrop", ...c });
    refused({ op: "vinfo" }, '"collection"');
    refused({ op: "vdrop", collection: "a b" }, '"collection"');
    refused({ op: "vlist", consistency: "now" }, '"consistency"');
  });

  it("vsearch: vector or vectors, filter, scoreThreshold, offset, withVector, ef", () => {
    const base = { op: "vsearch", ...c, k: 3 };
    expect(
      accepted({
        ...base,
        vectors: [[1], [2]],
        offset: 2,
        scoreThreshold: 0.5,
        withVector: true,
        ef: 50,
      }),
    ).toEqual({
      ...base,
      vectors: [[1], [2]],
      offset: 2,
      scoreThreshold: 0.5,
      withVector: true,
      ef: 50,
      consistency: "linearizable",
    });
    refused(base, '"vector" or "vectors"');
    refused({ ...base, vector: [1], vectors: [[1]] }, '"vector" or "vectors"');
    refused({ ...base, vectors: [] }, '"vectors"');
    refused({ ...base, vectors: [[1], ["x"]] }, '"vectors[1]"');
    refused({ ...base, vector: [1], offset: -1 }, '"offset"');
    refused({ ...base, vector: [1], scoreThreshold: "1" }, '"scoreThreshold"');
    refused({ ...base, vector: [1], withVector: 0 }, '"withVector"');
    refused({ ...base, vector: [1], ef: 0 }, '"ef"');
  });

  it("filters: must/should/mustNot of match, matchAny, range, exists and nested filters", () => {
    const filter = {
      must: [
        { key: "a.b", match: "x" },
        { key: "n", range: { gte: 1, lt: 5 } },
        { should: [{ key: "t", matchAny: [1, "2", true] }], mustNot: [{ key: "z", exists: true }] },
      ],
    };
    expect(accepted({ op: "vsearch", ...c, vector: [1], k: 1, filter })).toMatchObject({ filter });
    // The flat shorthand of earlier releases reads as must of matches.
    expect(accepted({ op: "vcount", ...c, filter: { g: 2 } })).toMatchObject({
      filter: { must: [{ key: "g", match: 2 }] },
    });
    const bad: [unknown, string][] = [
      ["x", '"filter"'],
      [{ must: [{ key: "a", match: 1 }], Must: [] }, '"filter.Must"'],
      [{ must: [{ key: "a", match: { o: 1 } }] }, '"filter.must[0].match"'],
      [{ must: [{ key: "a", match: 1, exists: true }] }, '"filter.must[0]"'],
      [{ must: [{ key: "", match: 1 }] }, '"filter.must[0].key"'],
      [{ must: [{ key: "a", matchAny: [] }] }, '"filter.must[0].matchAny"'],
      [{ must: [{ key: "a", matchAny: [[1]] }] }, '"filter.must[0].matchAny"'],
      [{ must: [{ key: "a", range: {} }] }, '"filter.must[0].range"'],
      [{ must: [{ key: "a", range: { gt: "1" } }] }, '"filter.must[0].range.gt"'],
      [{ must: [{ key: "a", range: { above: 1 } }] }, '"filter.must[0].range.above"'],
      [{ should: [{ key: "a", exists: 1 }] }, '"filter.should[0].exists"'],
      [{ mustNot: [{ key: "a", match: 1, other: 2 }] }, '"filter.mustNot[0].other"'],
      [{ must: [{ must: [{ key: "a" }] }] }, '"filter.must[0].must[0]"'],
      [{ must: [{ must: 5 }] }, '"filter.must[0].must"'],
    ];
    for (const [filter, field] of bad) refused({ op: "vcount", ...c, filter }, field);
  });
});
