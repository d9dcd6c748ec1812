import { describe, expect, test } from "vitest";
import type { KvInput, KvOperation, KvOutput } from "../../src/check/history.js";
import { kvModel } from "../../src/check/kv-model.js";
import {
  type CheckResult,
  checkKvHistory,
  checkOperations,
  type Model,
} from "../../src/check/linearizability.js";
import { cas, del, get, incr, op, put } from "./helpers.js";

const INF = Number.POSITIVE_INFINITY;

function expectOk(history: KvOperation[]): void {
  const result = checkKvHistory(history);
  if (result.ok !== true) {
    throw new Error(
      `expected linearizable, got ${String(result.ok)}:\n${
        result.ok === false ? result.explanation : result.reason
      }`,
    );
  }
}

type Violation = Extract<CheckResult<KvInput, KvOutput>, { ok: false }>;

function expectViolation(history: KvOperation[], key = "k"): Violation {
  const result = checkKvHistory(history);
  if (result.ok !== false) throw new Error(`expected a violation, got ${JSON.stringify(result)}`);
  expect(result.key).toBe(key);
  return result;
}

describe("linearizability - hand-written histories", () => {
  test("linearizability - an empty history is linearizable", () => {
    expectOk([]);
  });

  test("linearizability - a sequential history of every operation is linearizable", () => {
    expectOk([
      op(1, 0, 1, get("k"), { value: null }),
      op(1, 2, 3, put("k", "a"), {}),
      op(1, 4, 5, cas("k", "a", "b"), { succeeded: true, value: "b" }),
      op(1, 6, 7, cas("k", "a", "c"), { succeeded: false, value: "b" }),
      op(1, 8, 9, del("k"), { deleted: true }),
      op(1, 10, 11, del("k"), { deleted: false }),
      op(1, 12, 13, cas("k", null, "5"), { succeeded: true, value: "5" }),
      op(1, 14, 15, incr("k", 3), { value: "8" }),
      op(1, 16, 17, incr("k", -10), { value: -2 }),
      op(1, 18, 19, get("k"), { value: "-2" }),
    ]);
  });

  test("linearizability - a stale read after a completed write is caught", () => {
    const violation = expectViolation([
      op(1, 0, 10, put("k", "a"), {}),
      op(1, 20, 30, put("k", "b"), {}),
      op(2, 40, 50, get("k"), { value: "a" }),
    ]);
    expect(violation.unplaced.input).toEqual(get("k"));
    expect(violation.prefix.map((o) => o.input)).toEqual([put("k", "a"), put("k", "b")]);
    expect(violation.explanation).toContain('get("k") → "a"');
    expect(violation.explanation).toContain('put("k", "b")');
  });

  test("linearizability - a read concurrent with a write may see the old or the new value", () => {
    for (const seen of ["a", "b"]) {
      expectOk([
        op(1, 0, 10, put("k", "a"), {}),
        op(1, 20, 40, put("k", "b"), {}),
        op(2, 25, 35, get("k"), { value: seen }),
      ]);
    }
  });

  test("linearizability - two concurrent writes seen in opposite orders by two readers are caught", () => {
    const writes = [op(1, 0, 100, put("k", "a"), {}), op(2, 0, 100, put("k", "b"), {})];
    // Both readers see a, then b: fine (a before b).
    expectOk([
      ...writes,
      op(3, 10, 20, get("k"), { value: "a" }),
      op(3, 30, 40, get("k"), { value: "b" }),
      op(4, 10, 20, get("k"), { value: "a" }),
      op(4, 30, 40, get("k"), { value: "b" }),
    ]);
    // One sees a then b, the other b then a: no single order of the writes explains both.
    expectViolation([
      ...writes,
      op(3, 10, 20, get("k"), { value: "a" }),
      op(3, 30, 40, get("k"), { value: "b" }),
      op(4, 10, 20, get("k"), { value: "b" }),
      op(4, 30, 40, get("k"), { value: "a" }),
    ]);
  });

  test("linearizability - a cas with a wrong reported result is caught", () => {
    const before = [op(1, 0, 10, put("k", "x"), {})];
    expectOk([...before, op(2, 20, 30, cas("k", "x", "y"), { succeeded: true, value: "y" })]);
    // Reported failure although the value was the expected one.
    expectViolation([
      ...before,
      op(2, 20, 30, cas("k", "x", "y"), { succeeded: false, value: "x" }),
    ]);
    // Reported success although the value was not the expected one.
    expectViolation([
      ...before,
      op(2, 20, 30, cas("k", "z", "y"), { succeeded: true, value: "y" }),
    ]);
    // Right verdict, wrong value after it.
    expectViolation([
      ...before,
      op(2, 20, 30, cas("k", "z", "y"), { succeeded: false, value: "y" }),
    ]);
    // The value after it is optional.
    expectOk([...before, op(2, 20, 30, cas("k", "z", "y"), { succeeded: false })]);
  });

  test("linearizability - a lost acknowledged write is caught", () => {
    expectViolation([op(1, 0, 10, put("k", "v"), {}), op(2, 20, 30, get("k"), { value: null })]);
    expectViolation([
      op(1, 0, 10, incr("k", 1), { value: "1" }),
      op(2, 20, 30, incr("k", 1), { value: "2" }),
      op(3, 40, 50, get("k"), { value: "1" }),
    ]);
  });

  test("linearizability - a pending write may or may not have happened: both outcomes are accepted", () => {
    for (const never of [INF, null]) {
      const before = [op(1, 0, 10, put("k", "a"), {}), op(2, 15, never, put("k", "b"))];
      expectOk([...before, op(3, 20, 30, get("k"), { value: "a" })]);
      expectOk([...before, op(3, 20, 30, get("k"), { value: "b" })]);
      // It may also take effect long after, between two later reads.
      expectOk([
        ...before,
        op(3, 20, 30, get("k"), { value: "a" }),
        op(3, 40, 50, get("k"), { value: "a" }),
        op(3, 60, 70, get("k"), { value: "b" }),
      ]);
    }
  });

  test("linearizability - a pending write takes effect once, and not before its call", () => {
    // Seen, then unseen: it cannot un-happen.
    expectViolation([
      op(1, 0, 10, put("k", "a"), {}),
      op(2, 15, INF, put("k", "b")),
      op(3, 20, 30, get("k"), { value: "b" }),
      op(3, 40, 50, get("k"), { value: "a" }),
    ]);
    // Seen before it was called.
    expectViolation([op(2, 50, INF, put("k", "b")), op(3, 20, 30, get("k"), { value: "b" })]);
  });

  test("linearizability - a pending cas and incr apply by the model whenever they happen", () => {
    expectOk([
      op(1, 0, 10, put("k", "a"), {}),
      op(2, 5, INF, cas("k", "a", "b")),
      op(3, 20, 30, get("k"), { value: "b" }),
    ]);
    // The pending cas cannot succeed on a value it did not expect.
    expectViolation([
      op(1, 0, 10, put("k", "z"), {}),
      op(2, 5, INF, cas("k", "a", "b")),
      op(3, 20, 30, get("k"), { value: "b" }),
    ]);
    expectOk([
      op(1, 0, 10, incr("k", 2), { value: "2" }),
      op(2, 5, INF, incr("k", 5)),
      op(3, 20, 30, incr("k", 1), { value: "8" }),
    ]);
  });

  test("linearizability - a read of a value never written is caught", () => {
    const violation = expectViolation([
      op(1, 0, 10, put("k", "a"), {}),
      op(2, 5, 15, get("k"), { value: "ghost" }),
    ]);
    expect(violation.explanation).toContain('get("k") → "ghost"');
    expect(violation.explanation).toContain("impossible in that state");
  });

  test("linearizability - delete's deleted flag is checked when given", () => {
    expectOk([op(1, 0, 10, put("k", "a"), {}), op(1, 20, 30, del("k"), {})]);
    expectViolation([op(1, 0, 10, put("k", "a"), {}), op(1, 20, 30, del("k"), { deleted: false })]);
    expectViolation([op(1, 0, 10, del("k"), { deleted: true })]);
  });

  test("linearizability - incr of a non-integer: impossible if it returned, a no-op if it never did", () => {
    const before = [op(1, 0, 10, put("k", "abc"), {})];
    expectViolation([...before, op(2, 20, 30, incr("k", 1), { value: "1" })]);
    expectOk([...before, op(2, 20, INF, incr("k", 1)), op(3, 40, 50, get("k"), { value: "abc" })]);
  });

  test("linearizability - pending reads constrain nothing and are dropped", () => {
    const result = checkKvHistory([
      op(1, 0, 10, put("k", "a"), {}),
      op(2, 5, INF, get("k"), { value: "anything" } as never),
    ]);
    expect(result.ok).toBe(true);
    expect(result.stats.operations).toBe(1);
  });

  test("linearizability - keys are checked independently and the failing key is named", () => {
    const history = [
      op(1, 0, 10, put("x", "1"), {}),
      op(2, 0, 10, put("y", "1"), {}),
      op(1, 20, 30, get("x"), { value: "1" }),
      op(2, 20, 30, get("y"), { value: "2" }),
    ];
    const violation = expectViolation(history, "y");
    expect(violation.explanation).toContain('key "y"');
    expect(checkKvHistory(history.slice(0, 3))).toMatchObject({ ok: true, stats: { keys: 2 } });
  });

  test("linearizability - a call at the same time as a return counts as concurrent", () => {
    expectOk([op(1, 0, 10, get("k"), { value: "a" }), op(2, 10, 20, put("k", "a"), {})]);
    expectViolation([op(1, 0, 9, get("k"), { value: "a" }), op(2, 10, 20, put("k", "a"), {})]);
  });

  test("linearizability - the explanation lists the longest prefix, its state and the candidates", () => {
    const violation = expectViolation([
      op("alice", 0, 10, put("k", "a"), {}),
      op("bob", 20, 60, put("k", "b"), {}),
      op("carol", 30, 40, get("k"), { value: "b" }),
      op("dave", 45, 50, get("k"), { value: "a" }),
    ]);
    const text = violation.explanation;
    expect(text).toContain('not linearizable: key "k"');
    expect(text).toMatch(/Longest linearizable prefix found: 3 operation\(s\)/);
    expect(text).toContain('#0 client "alice": put("k", "a") → ok  (call 0, return 10)');
    expect(text).toContain('State after it: "b"');
    expect(text).toContain('Cannot place #3 client "dave": get("k") → "a"');
    expect(violation.unplaced.clientId).toBe("dave");
  });

  test("linearizability - a budget that runs out gives unknown, never ok", () => {
    const history: KvOperation[] = [];
    for (let k = 0; k < 40; k++) history.push(op(k, 0, 100, put("k", `v${k}`), {}));
    history.push(op(99, 50, 60, get("k"), { value: "v39" }));
    expect(checkKvHistory(history).ok).toBe(true);
    const bySteps = checkKvHistory(history, { maxStepsPerKey: 10 });
    expect(bySteps).toMatchObject({ ok: "unknown", key: "k" });
    expect(bySteps.ok === "unknown" && bySteps.reason).toMatch(/budget \(10 steps\)/);
    // A clock that jumps a second on every reading exhausts a 1 ms budget at its first check.
    let now = 0;
    const byTime = checkKvHistory(history, { timeBudgetMsPerKey: 1, now: () => (now += 1000) });
    expect(byTime.ok).toBe("unknown");
    // A definite violation on another key still wins over unknown.
    const both = checkKvHistory([...history, op(1, 200, 210, get("z"), { value: "ghost" })], {
      maxStepsPerKey: 10,
    });
    expect(both).toMatchObject({ ok: false, key: "z" });
  });

  test("linearizability - malformed histories are rejected", () => {
    expect(() => checkKvHistory([op(1, 10, 5, put("k", "a"), {})])).toThrow(RangeError);
    expect(() => checkKvHistory([op(1, Number.NaN, 5, put("k", "a"), {})])).toThrow(RangeError);
    expect(() => checkKvHistory([op(1, 0, 5, get("k"))])).toThrow(/get's output/);
    expect(() => checkKvHistory([op(1, 0, 5, incr("k", 1), { value: "x" })])).toThrow(TypeError);
  });

  test("linearizability - the checker takes any model (an unpartitioned register)", () => {
    // A single register over all keys at once: the KV model without its partitioning.
    const register: Model<string | null, KvInput, unknown> = {
      init: () => null,
      step: (state, input, output) => kvModel.step(state, input, output as never),
      stateKey: (state) => JSON.stringify(state),
    };
    const history = [op(1, 0, 10, put("x", "a"), {}), op(2, 20, 30, get("y"), { value: "a" })];
    expect(checkOperations(register, history).ok).toBe(true); // one register: y sees x's write
    expect(checkKvHistory(history).ok).toBe(false); // per key: y was never written
  });
});
