/**
 * Random txns with the additions (nested txns, range compares, reads at a revision, ignore*)
 * answer alike on both engines and however the entries are cut into batches: the same
 * results, the same state, the same history (replicas batch differently; their answers must
 * not differ).
 */
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, describe, expect, test } from "vitest";
import type {
  KvCommand,
  KvEngine,
  KvResult,
  TxnCompare,
  TxnOp,
} from "../../storage/engines/engine.js";
import { LevelKvEngine } from "../../storage/engines/kv-level.js";
import { MemoryKvEngine } from "../../storage/engines/kv-memory.js";
import { TempDirs } from "./helpers.js";

const SEED = 1717;
const dirs = new TempDirs();
const opened: KvEngine[] = [];

afterEach(async () => {
  for (const e of opened.splice(0)) await e.close();
  await dirs.removeAll();
});

const NO_BOUND = { keepRevisions: 0, keepBytes: 0 };

async function make(kind: "memory" | "level"): Promise<KvEngine> {
  const engine =
    kind === "memory"
      ? new MemoryKvEngine(NO_BOUND)
      : new LevelKvEngine(join(await dirs.make("txnprop"), "kv"), { history: NO_BOUND });
  await engine.open();
  opened.push(engine);
  return engine;
}

const keyArb = fc.constantFrom("a", "b", "c", "d");
const spanArb = fc.oneof(
  fc.record({ prefix: fc.constantFrom("", "a", "b") }),
  fc.record({ start: keyArb }),
  fc.record({ start: keyArb, end: keyArb }),
);
const compareArb: fc.Arbitrary<TxnCompare> = fc
  .tuple(
    fc.oneof(
      keyArb.map((key) => ({ key })),
      spanArb.map((range) => ({ range })),
    ),
    fc.oneof(
      fc.record({ target: fc.constant("value" as const), value: fc.constantFrom("1", "2") }),
      fc.record({ target: fc.constant("version" as const), value: fc.nat(2) }),
      fc.record({ target: fc.constant("modRevision" as const), value: fc.nat(8) }),
    ),
    fc.constantFrom("==" as const, "!=" as const, "<" as const, ">" as const),
  )
  .map(([on, test, op]) => ({ ...on, ...test, op }) as TxnCompare);

/** A txn's ops; revisions up to 10 (some are in the future of small histories: an error). */
const opArb: fc.Memo<TxnOp> = fc.memo((depth) =>
  fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.record({
      op: fc.constant("put" as const),
      key: keyArb,
      value: fc.constantFrom("1", "2"),
    }),
    fc.record({
      op: fc.constant("put" as const),
      key: keyArb,
      value: fc.constant(""),
      ignoreValue: fc.constant(true),
    }),
    fc.record({ op: fc.constant("delete" as const), key: keyArb }),
    fc.record({
      op: fc.constant("get" as const),
      key: keyArb,
      revision: fc.integer({ min: 1, max: 10 }),
    }),
    fc.record({
      op: fc.constant("scan" as const),
      range: spanArb,
      limit: fc.constant(10),
      revision: fc.integer({ min: 1, max: 10 }),
    }),
    fc.record({ op: fc.constant("scan" as const), range: spanArb, limit: fc.constant(10) }),
    ...(depth > 1 ? [txnArb(depth - 1)] : []),
  ),
);

function txnArb(depth: number): fc.Arbitrary<Extract<TxnOp, { op: "txn" }>> {
  return fc.record({
    op: fc.constant("txn" as const),
    compare: fc.array(compareArb, { maxLength: 2 }),
    success: fc.array(opArb(depth), { maxLength: 3 }),
    failure: fc.array(opArb(depth), { maxLength: 3 }),
  });
}

const commandArb: fc.Arbitrary<KvCommand> = fc.oneof(
  fc.record({ op: fc.constant("put" as const), key: keyArb, value: fc.constantFrom("1", "2") }),
  txnArb(3),
);

/** Apply the commands at indexes 1.., cut into batches at `cuts`; every result, then the state. */
async function run(e: KvEngine, commands: KvCommand[], cuts: Set<number>): Promise<unknown> {
  const results: KvResult[] = [];
  let batch: { index: number; command: KvCommand }[] = [];
  for (const [k, command] of commands.entries()) {
    batch.push({ index: k + 1, command });
    if (cuts.has(k) || k === commands.length - 1) {
      results.push(...(await e.applyBatch(batch, k + 1)));
      batch = [];
    }
  }
  const state = await e.read({ op: "scan", range: {}, limit: 100 });
  const history = await e.history(1, {}, 1000);
  return { results, state, history };
}

describe("txn additions - property", () => {
  test(`both engines, any batching: the same answers, state and history (fast-check seed ${SEED})`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(commandArb, { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(8)),
        async (commands, cutList) => {
          const one = await run(await make("memory"), commands, new Set(commands.keys()));
          const cut = await run(await make("level"), commands, new Set(cutList));
          const whole = await run(await make("memory"), commands, new Set());
          expect(cut).toEqual(one);
          expect(whole).toEqual(one);
          for (const e of opened.splice(0)) await e.close();
        },
      ),
      { seed: SEED, numRuns: 60 },
    );
  });
});
