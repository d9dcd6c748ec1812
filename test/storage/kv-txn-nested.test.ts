/**
 * The txn evaluator's additions (CONTRACT §5, issue 17): nested txns, compares over a range,
 * reads at a revision inside a txn, puts that keep the key's value or lease. Each as etcd 3.4's
 * applier does it (etcdserver/apply.go: compareToPath, checkRequests, applyTxn, Put), on both
 * KV engines.
 */
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import type { KvCommand, KvEngine, KvResult, TxnOp } from "../../storage/engines/engine.js";
import { LevelKvEngine } from "../../storage/engines/kv-level.js";
import { MemoryKvEngine } from "../../storage/engines/kv-memory.js";
import type { HistorySettings } from "../../storage/engines/revision-store.js";
import { TempDirs } from "./helpers.js";

const dirs = new TempDirs();
const opened: KvEngine[] = [];

afterEach(async () => {
  for (const e of opened.splice(0)) await e.close();
  await dirs.removeAll();
});

const NO_BOUND: HistorySettings = { keepRevisions: 0, keepBytes: 0 };
const KINDS = ["memory", "level"] as const;

async function make(kind: (typeof KINDS)[number], settings = NO_BOUND): Promise<KvEngine> {
  const engine =
    kind === "memory"
      ? new MemoryKvEngine(settings)
      : new LevelKvEngine(join(await dirs.make("txn"), "kv"), { history: settings });
  await engine.open();
  opened.push(engine);
  return engine;
}

async function at(engine: KvEngine, index: number, command: KvCommand): Promise<KvResult> {
  const [result] = await engine.applyBatch([{ index, command }], index);
  return result!;
}

async function value(engine: KvEngine, key: string): Promise<string | null> {
  return engine.get(key);
}

const put = (key: string, v: string, extra: object = {}): TxnOp => ({
  op: "put",
  key,
  value: v,
  ...extra,
});
const get = (key: string, revision?: number): TxnOp =>
  revision === undefined ? { op: "get", key } : { op: "get", key, revision };
const txn = (
  compare: Extract<KvCommand, { op: "txn" }>["compare"],
  success: TxnOp[],
  failure: TxnOp[] = [],
): Extract<KvCommand, { op: "txn" }> => ({ op: "txn", compare, success, failure });

describe.each(KINDS)("txn evaluator additions (%s)", (kind) => {
  test("nested txn - its results nest; its compares see the state before any op ran, as etcd's compareToPath", async () => {
    const e = await make(kind);
    const result = await at(
      e,
      1,
      txn(
        [],
        [
          put("x", "1"),
          // x is absent before the txn: this compare fails although the put above ran.
          txn(
            [{ key: "x", target: "value", op: "==", value: "1" }],
            [put("y", "then")],
            [put("y", "else"), get("x")],
          ),
          get("y"),
        ],
      ),
    );
    const kvOf = (k: string, v: string) => ({
      key: k,
      value: v,
      createRevision: 1,
      modRevision: 1,
      version: 1,
      lease: null,
    });
    expect(result).toEqual({
      op: "txn",
      succeeded: true,
      results: [
        { op: "put" },
        {
          op: "txn",
          succeeded: false,
          results: [{ op: "put" }, { op: "get", kv: kvOf("x", "1") }],
        },
        // Later ops see the nested txn's writes.
        { op: "get", kv: kvOf("y", "else") },
      ],
    });
    expect(await value(e, "y")).toBe("else");
  });

  test("nested txn - in the failure branch, three deep, each taking its own branch", async () => {
    const e = await make(kind);
    await at(e, 1, { op: "put", key: "a", value: "1" });
    const inner = txn([{ key: "a", target: "version", op: "==", value: 1 }], [put("c", "deep")]);
    const middle = txn([{ key: "b", target: "version", op: ">", value: 0 }], [], [inner]);
    const result = await at(
      e,
      2,
      txn([{ key: "a", target: "value", op: "==", value: "2" }], [put("s", "no")], [middle]),
    );
    expect(result).toEqual({
      op: "txn",
      succeeded: false,
      results: [
        {
          op: "txn",
          succeeded: false,
          results: [{ op: "txn", succeeded: true, results: [{ op: "put" }] }],
        },
      ],
    });
    expect(await value(e, "c")).toBe("deep");
    expect(await value(e, "s")).toBe(null);
  });

  test("range compare - an absent range is one absent key: version == 0 holds, a value compare fails", async () => {
    const e = await make(kind);
    await at(e, 1, { op: "put", key: "q", value: "elsewhere" });
    let index = 1;
    const txnOn = (compare: object) =>
      txn([{ range: { prefix: "p/" }, ...compare } as never], [], []);
    const holds = async (compare: object) =>
      ((await at(e, ++index, txnOn(compare))) as { succeeded: boolean }).succeeded;
    expect(await holds({ target: "version", op: "==", value: 0 })).toBe(true);
    expect(await holds({ target: "createRevision", op: ">", value: 0 })).toBe(false);
    expect(await holds({ target: "value", op: "==", value: "" })).toBe(false);
    expect(await holds({ target: "value", op: "!=", value: "x" })).toBe(false);
    expect(await holds({ target: "lease", op: "==", value: null })).toBe(true);
  });

  test("range compare - every key of the range must hold (a partial match fails)", async () => {
    const e = await make(kind);
    await at(e, 1, { op: "put", key: "p/a", value: "1" });
    await at(e, 2, { op: "put", key: "p/b", value: "2" });
    await at(e, 3, { op: "put", key: "q", value: "1" });
    let index = 3;
    const holds = async (range: object, compare: object) =>
      (
        (await at(e, ++index, txn([{ range, ...compare } as never], []))) as {
          succeeded: boolean;
        }
      ).succeeded;
    expect(await holds({ prefix: "p/" }, { target: "version", op: "==", value: 1 })).toBe(true);
    expect(await holds({ prefix: "p/" }, { target: "value", op: "==", value: "1" })).toBe(false);
    expect(await holds({ prefix: "p/" }, { target: "value", op: ">", value: "0" })).toBe(true);
    expect(await holds({ prefix: "p/" }, { target: "modRevision", op: "<", value: 2 })).toBe(false);
    expect(
      await holds({ start: "p/a", end: "p/b" }, { target: "modRevision", op: "<", value: 2 }),
    ).toBe(true);
    // [p/b, ∞) holds p/b and q: both at version 1, different values.
    expect(await holds({ start: "p/b" }, { target: "version", op: "==", value: 1 })).toBe(true);
    expect(await holds({ start: "p/b" }, { target: "value", op: "==", value: "2" })).toBe(false);
  });

  test("range compare - sees the batch's earlier writes (one entry per command, one batch)", async () => {
    const e = await make(kind);
    const results = await e.applyBatch(
      [
        { index: 1, command: { op: "put", key: "p/a", value: "1" } },
        {
          index: 2,
          command: txn([{ range: { prefix: "p/" }, target: "version", op: "==", value: 0 }], []),
        },
      ],
      2,
    );
    expect(results[1]).toMatchObject({ op: "txn", succeeded: false });
  });

  test("read at a revision inside a txn - the state at that revision, not the txn's writes", async () => {
    const e = await make(kind);
    await at(e, 1, { op: "put", key: "a", value: "1" });
    await at(e, 2, { op: "put", key: "a", value: "2" });
    await at(e, 3, { op: "put", key: "b", value: "1" });
    await at(e, 4, { op: "delete", key: "b" });
    const result = (await at(
      e,
      6,
      txn(
        [],
        [
          put("a", "6"),
          get("a", 1),
          get("a"),
          get("a", 5),
          get("b", 3),
          { op: "scan", range: { start: "a" }, limit: 10, revision: 3 },
        ],
      ),
    )) as unknown as { results: KvResult[] };
    const values = result.results.map((r) =>
      r.op === "get"
        ? (r.kv?.value ?? null)
        : r.op === "scan"
          ? r.items.map((kv) => kv.value)
          : r.op,
    );
    expect(values).toEqual(["put", "1", "6", "2", "1", ["2", "1"]]);
  });

  test("read at a revision inside a txn - within one batch, past the writes not yet stored", async () => {
    const e = await make(kind);
    await at(e, 1, { op: "put", key: "a", value: "1" });
    const results = await e.applyBatch(
      [
        { index: 2, command: { op: "put", key: "a", value: "2" } },
        { index: 3, command: { op: "put", key: "a", value: "3" } },
        { index: 4, command: txn([], [put("a", "4"), get("a", 1), get("a", 2), get("a", 3)]) },
      ],
      4,
    );
    const gets = (results[2] as unknown as { results: KvResult[] }).results
      .slice(1)
      .map((r) => (r.op === "get" ? r.kv?.value : undefined));
    expect(gets).toEqual(["1", "2", "3"]);
  });

  test("read at a revision inside a txn - a future or compacted revision fails the whole txn, nothing done", async () => {
    const e = await make(kind);
    await at(e, 1, { op: "put", key: "a", value: "1" });
    await at(e, 2, { op: "put", key: "a", value: "2" });
    // The txn's own revision is in the future: the state before it is revision 2.
    expect(await at(e, 3, txn([], [put("x", "1"), get("a", 3)]))).toEqual({
      op: "txn",
      error: "future",
      revision: 3,
      currentRevision: 2,
    });
    expect(await value(e, "x")).toBe(null);
    await at(e, 4, { op: "compact", revision: 2 });
    expect(await at(e, 5, txn([], [put("x", "1"), get("a", 1)]))).toEqual({
      op: "txn",
      error: "compacted",
      revision: 1,
      compactedRevision: 2,
    });
    expect(await value(e, "x")).toBe(null);
    const read = await at(e, 6, txn([], [get("a", 2)]));
    expect(read).toMatchObject({ results: [{ op: "get", kv: { value: "2", modRevision: 2 } }] });
  });

  test("read at a revision inside a txn - keepRevisions bounds it as it bounds a read", async () => {
    const e = await make(kind, { keepRevisions: 3, keepBytes: 0 });
    for (let index = 1; index <= 6; index++)
      await at(e, index, { op: "put", key: "a", value: String(index) });
    // Before entry 7 the kept revisions are 4..6.
    expect(await at(e, 7, txn([], [get("a", 3)]))).toMatchObject({ error: "compacted" });
    expect(await at(e, 8, txn([], [get("a", 5)]))).toMatchObject({
      results: [{ kv: { value: "5" } }],
    });
  });

  test("ignoreValue/ignoreLease - keep the key's value or lease; an absent key fails the txn (etcd's ErrKeyNotFound)", async () => {
    const e = await make(kind);
    await at(e, 1, { op: "put", key: "a", value: "1", lease: "7" });
    const kept = await at(
      e,
      2,
      txn([], [put("a", "", { ignoreValue: true, lease: "8", prevKv: true }), get("a")]),
    );
    expect(kept).toMatchObject({
      results: [
        { op: "put", prevKv: { value: "1", lease: "7" } },
        { op: "get", kv: { value: "1", lease: "8", version: 2 } },
      ],
    });
    await at(e, 3, txn([], [put("a", "3", { ignoreLease: true })]));
    expect(await e.read({ op: "get", key: "a" })).toMatchObject({
      result: { kv: { value: "3", lease: "8" } },
    });
    expect(await at(e, 4, txn([], [put("b", "1"), put("z", "", { ignoreValue: true })]))).toEqual({
      op: "txn",
      error: "key-not-found",
      key: "z",
    });
    expect(await value(e, "b")).toBe(null);
    // Outside a txn too (the native put's fields).
    expect(await at(e, 5, { op: "put", key: "z", value: "1", ignoreLease: true })).toEqual({
      op: "put",
      error: "key-not-found",
      key: "z",
    });
    expect(await at(e, 6, { op: "put", key: "a", value: "", ignoreValue: true })).toEqual({
      op: "put",
    });
    expect(await value(e, "a")).toBe("3");
  });

  test("a failed txn in a batch undoes only itself: the batch's other entries stay", async () => {
    const e = await make(kind);
    const results = await e.applyBatch(
      [
        { index: 1, command: { op: "put", key: "k", value: "1" } },
        { index: 2, command: txn([], [put("k", "2"), put("m", "", { ignoreValue: true })]) },
        { index: 3, command: txn([], [get("k")]) },
      ],
      3,
    );
    expect(results[1]).toMatchObject({ error: "key-not-found" });
    expect(results[2]).toMatchObject({ results: [{ kv: { value: "1", modRevision: 1 } }] });
    expect(await value(e, "k")).toBe("1");
    const history = await e.history(1, {}, 100);
    expect(history.ok && history.changes.map((c) => c.revision)).toEqual([1]);
  });
});
