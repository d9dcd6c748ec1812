import fc from "fast-check";
import { describe, expect, test } from "vitest";
import type { KvInput, KvOperation, KvOutput } from "../../src/check/history.js";
import { checkKvHistory } from "../../src/check/linearizability.js";
import {
  bruteForceLinearizable,
  corruptOneRead,
  executePlan,
  NEVER_WRITTEN,
  op,
  planArbitrary,
} from "./helpers.js";

const LINEARIZABLE_SEED = 20240611;
const CORRUPTED_SEED = 777001;
const BRUTE_FORCE_SEED = 4242;
const PENDING_SEED = 31337;
const PERFORMANCE_SEED = 99;

function verdict(history: KvOperation[]): string {
  const result = checkKvHistory(history);
  if (result.ok === true) return "ok";
  return result.ok === false
    ? `not linearizable:\n${result.explanation}`
    : `unknown: ${result.reason}`;
}

describe("linearizability - property tests (fast-check)", () => {
  test(`linearizability - random executions with overlapping intervals are linearizable (fast-check seed ${LINEARIZABLE_SEED})`, () => {
    const plans = fc.oneof(
      planArbitrary({ clients: 3, keys: 1, minOps: 1, maxOps: 40, pendingPercent: 10 }),
      planArbitrary({ clients: 6, keys: 3, minOps: 1, maxOps: 80, pendingPercent: 15 }),
    );
    fc.assert(
      fc.property(plans, (plan) => {
        const history = executePlan(plan);
        const outcome = verdict(history);
        if (outcome !== "ok") throw new Error(`${outcome}\nhistory: ${JSON.stringify(history)}`);
      }),
      { seed: LINEARIZABLE_SEED, numRuns: 300 },
    );
  });

  test(`linearizability - one read corrupted to a never-written value is caught (fast-check seed ${CORRUPTED_SEED})`, () => {
    const cases = fc.tuple(
      planArbitrary({ clients: 5, keys: 2, minOps: 1, maxOps: 60, pendingPercent: 10 }),
      fc.nat(),
    );
    fc.assert(
      fc.property(cases, ([plan, choice]) => {
        const corrupted = corruptOneRead(executePlan(plan), choice);
        fc.pre(corrupted !== null);
        const result = checkKvHistory(corrupted!);
        if (result.ok !== false) {
          throw new Error(`judged ${String(result.ok)}\nhistory: ${JSON.stringify(corrupted)}`);
        }
        const bad = corrupted!.find(
          (o) => (o.output as { value?: unknown } | undefined)?.value === NEVER_WRITTEN,
        );
        expect(result.key).toBe(bad!.input.key);
        expect(result.explanation).toContain(NEVER_WRITTEN);
      }),
      { seed: CORRUPTED_SEED, numRuns: 300 },
    );
  });

  test(`linearizability - agrees with a brute-force search on small histories (fast-check seed ${BRUTE_FORCE_SEED})`, () => {
    const tally = { linearizable: 0, violations: 0 };
    const randomOp = fc
      .record({
        client: fc.nat(3),
        kind: fc.constantFrom("put", "get", "delete", "cas", "incr"),
        key: fc.constantFrom("x", "y"),
        value: fc.constantFrom("a", "b", "1"),
        expect: fc.constantFrom(null, "a", "b", "1"),
        delta: fc.integer({ min: -1, max: 2 }),
        call: fc.nat(12),
        duration: fc.nat(8),
        pending: fc.nat(5).map((x) => x === 0),
        seen: fc.constantFrom(null, "a", "b", "1"),
        number: fc.constantFrom("-1", "0", "1", "2", "3"),
        flag: fc.boolean(),
      })
      .map((r): KvOperation => {
        const input: KvInput =
          r.kind === "put"
            ? { op: "put", key: r.key, value: r.value }
            : r.kind === "get"
              ? { op: "get", key: r.key }
              : r.kind === "delete"
                ? { op: "delete", key: r.key }
                : r.kind === "cas"
                  ? { op: "cas", key: r.key, expect: r.expect, value: r.value }
                  : { op: "incr", key: r.key, delta: r.delta };
        const output: KvOutput =
          r.kind === "put"
            ? {}
            : r.kind === "get"
              ? { value: r.seen }
              : r.kind === "delete"
                ? { deleted: r.flag }
                : r.kind === "cas"
                  ? { succeeded: r.flag, value: r.seen }
                  : { value: r.number };
        return r.pending
          ? op(r.client, r.call, Number.POSITIVE_INFINITY, input)
          : op(r.client, r.call, r.call + r.duration, input, output);
      });
    // Random outputs (mostly impossible) and real executions with one output randomised.
    const histories = fc.oneof(
      fc.array(randomOp, { maxLength: 7 }),
      fc
        .tuple(
          planArbitrary({ clients: 3, keys: 2, minOps: 1, maxOps: 7, pendingPercent: 20 }),
          fc.nat(),
          randomOp,
        )
        .map(([plan, choice, random]) => {
          const history = executePlan(plan);
          if (history.length === 0) return history;
          const index = choice % history.length;
          const target = history[index]!;
          if (random.input.op === target.input.op && random.return !== Number.POSITIVE_INFINITY) {
            history[index] = { ...target, output: random.output };
          }
          return history;
        }),
    );
    fc.assert(
      fc.property(histories, (history) => {
        const expected = bruteForceLinearizable(history);
        const result = checkKvHistory(history);
        if (result.ok !== expected) {
          throw new Error(
            `checker ${String(result.ok)}, brute force ${expected}\n${verdict(history)}\n` +
              `history: ${JSON.stringify(history)}`,
          );
        }
        if (expected) tally.linearizable++;
        else tally.violations++;
      }),
      { seed: BRUTE_FORCE_SEED, numRuns: 1500 },
    );
    // Both verdicts were exercised.
    expect(tally.linearizable).toBeGreaterThan(200);
    expect(tally.violations).toBeGreaterThan(200);
  });

  test(`linearizability - agrees with a brute-force search when many operations never returned (fast-check seed ${PENDING_SEED})`, () => {
    const tally = { linearizable: 0, violations: 0 };
    const oneKeyOp = fc
      .record({
        kind: fc.constantFrom("put", "get", "cas", "delete", "incr"),
        value: fc.constantFrom("a", "b", "1"),
        expect: fc.constantFrom(null, "a", "b"),
        delta: fc.constantFrom(0, 1),
        call: fc.nat(10),
        duration: fc.nat(6),
        pending: fc.nat(9).map((x) => x < 4),
        seen: fc.constantFrom(null, "a", "b", "1", "2"),
        flag: fc.boolean(),
      })
      .map((r): KvOperation => {
        const key = "k";
        const input: KvInput =
          r.kind === "put"
            ? { op: "put", key, value: r.value }
            : r.kind === "get"
              ? { op: "get", key }
              : r.kind === "cas"
                ? { op: "cas", key, expect: r.expect, value: r.value }
                : r.kind === "delete"
                  ? { op: "delete", key }
                  : { op: "incr", key, delta: r.delta };
        const output: KvOutput =
          r.kind === "put"
            ? {}
            : r.kind === "get"
              ? { value: r.seen }
              : r.kind === "cas"
                ? { succeeded: r.flag, value: r.seen }
                : r.kind === "delete"
                  ? { deleted: r.flag }
                  : { value: r.seen === "2" ? "2" : "1" };
        return r.pending
          ? op(0, r.call, Number.POSITIVE_INFINITY, input)
          : op(0, r.call, r.call + r.duration, input, output);
      });
    fc.assert(
      fc.property(fc.array(oneKeyOp, { maxLength: 10 }), (history) => {
        const expected = bruteForceLinearizable(history);
        const result = checkKvHistory(history);
        if (result.ok !== expected) {
          throw new Error(
            `checker ${String(result.ok)}, brute force ${expected}\nhistory: ${JSON.stringify(history)}`,
          );
        }
        if (expected) tally.linearizable++;
        else tally.violations++;
      }),
      { seed: PENDING_SEED, numRuns: 2500 },
    );
    expect(tally.linearizable).toBeGreaterThan(300);
    expect(tally.violations).toBeGreaterThan(300);
  });

  test(`linearizability - a 10-client, 2000-op history on 8 keys checks within the budget (fast-check seed ${PERFORMANCE_SEED})`, () => {
    const [plan] = fc.sample(
      planArbitrary({ clients: 10, keys: 8, minOps: 2000, maxOps: 2000, pendingPercent: 2 }),
      { seed: PERFORMANCE_SEED, numRuns: 1 },
    );
    // Values from a small pool (many equal states), then fresh values as real runs write.
    for (const unique of [false, true]) {
      const history = executePlan(plan!, unique);
      expect(history.length).toBeGreaterThan(1800);
      const result = checkKvHistory(history);
      if (result.ok !== true) throw new Error(verdict(history));
      expect(result.stats.keys).toBe(8);
      console.info(
        `linearizability: ${history.length} operations on 8 keys (${unique ? "fresh" : "pooled"} ` +
          `values): ${result.stats.steps} steps, ${result.stats.elapsedMs.toFixed(1)} ms`,
      );
      // And with one read corrupted, the same history is caught.
      const corrupted = corruptOneRead(history, 1234)!;
      expect(checkKvHistory(corrupted).ok).toBe(false);
    }
  });
});
