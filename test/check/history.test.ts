import { describe, expect, test } from "vitest";
import {
  HistoryRecorder,
  type KvClientLike,
  type KvInput,
  outcomeOfError,
  recordKv,
} from "../../src/check/history.js";
import { checkKvHistory } from "../../src/check/linearizability.js";
import type { StageraftClient } from "../../src/client/client.js";
import { get, put } from "./helpers.js";

const INF = Number.POSITIVE_INFINITY;

describe("linearizability - history recorder", () => {
  test("history recorder - returned, unknown and failed operations", () => {
    const recorder = HistoryRecorder.logical();
    const a = recorder.invoke(1, put("k", "a")); // t=1
    const b = recorder.invoke(2, put("k", "b")); // t=2
    const c = recorder.invoke(3, get("k")); // t=3
    a.ok({}); // t=4
    b.unknown();
    c.failed();
    expect(recorder.history()).toEqual([
      { clientId: 1, call: 1, return: 4, input: put("k", "a"), output: {} },
      { clientId: 2, call: 2, return: INF, input: put("k", "b") },
    ]);
    expect(recorder.inFlight).toBe(0);
  });

  test("history recorder - operations still in flight count as never returned", () => {
    const recorder = HistoryRecorder.logical();
    const done = recorder.invoke("c", put("k", "a"));
    expect(recorder.history()).toEqual([
      { clientId: "c", call: 1, return: INF, input: put("k", "a") },
    ]);
    expect(recorder.inFlight).toBe(1);
    done.ok({});
    expect(recorder.history()[0]).toMatchObject({ return: 2, output: {} });
  });

  test("history recorder - an operation settles once", () => {
    const done = HistoryRecorder.logical().invoke(1, get("k"));
    done.ok({ value: null });
    expect(() => done.unknown()).toThrow(/settled twice/);
  });

  test("history recorder - errors that promise nothing was done are dropped, others are unknown", () => {
    for (const code of ["OVERLOADED", "NOT_LEADER", "UNAVAILABLE", "BAD_REQUEST"]) {
      expect(outcomeOfError({ code })).toBe("nothing-done");
    }
    expect(outcomeOfError({ code: "TIMEOUT" })).toBe("unknown");
    expect(outcomeOfError({ code: "CONNECTION" })).toBe("unknown");
    expect(outcomeOfError(new Error("boom"))).toBe("unknown");
    expect(outcomeOfError(undefined)).toBe("unknown");
    const recorder = HistoryRecorder.logical();
    expect(recorder.invoke(1, put("k", "a")).error({ code: "NOT_LEADER" })).toBe("nothing-done");
    expect(recorder.invoke(2, put("k", "b")).error({ code: "TIMEOUT" })).toBe("unknown");
    expect(recorder.history()).toEqual([
      { clientId: 2, call: 2, return: INF, input: put("k", "b") },
    ]);
  });

  test("history recorder - the client library fits what recordKv needs", () => {
    // A compile-time check: this assignment only type-checks if the client fits.
    const fits = (client: StageraftClient): KvClientLike => client;
    expect(fits).toBeTypeOf("function");
  });

  test("history recorder - the default clock is performance.now", () => {
    const recorder = new HistoryRecorder();
    const before = performance.now();
    recorder.invoke(1, get("k")).ok({ value: null });
    const [recorded] = recorder.history();
    expect(recorded!.call).toBeGreaterThanOrEqual(before);
    expect(recorded!.return).toBeGreaterThanOrEqual(recorded!.call);
  });
});

// ---- recording concurrent runs against an in-memory client ----

/** xorshift32: a seeded stream of numbers in [0, 1). */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * An in-memory "cluster": each request waits a few ticks, applies atomically, waits again.
 * Some requests fail: NOT_LEADER before applying, TIMEOUT after applying (or not). With
 * `staleReads`, gets read a replica that catches up only every third write.
 */
function fakeCluster(rand: () => number, staleReads: boolean): KvClientLike {
  const store = new Map<string, string>();
  let replica = new Map<string, string>();
  let writes = 0;
  const pause = async () => {
    for (let k = Math.floor(rand() * 4); k > 0; k--) await tick();
  };
  const request = async <T>(apply: () => T, write: boolean): Promise<T> => {
    await pause();
    const fate = rand();
    if (fate < 0.05) throw Object.assign(new Error("not leader"), { code: "NOT_LEADER" });
    if (fate < 0.08) throw Object.assign(new Error("timeout"), { code: "TIMEOUT" });
    const result = apply();
    if (write && ++writes % 3 === 0) replica = new Map(store);
    await pause();
    if (fate < 0.12) throw Object.assign(new Error("connection lost"), { code: "TIMEOUT" });
    return result;
  };
  return {
    put: (key, value) =>
      request(() => {
        store.set(key, value);
        return {};
      }, true),
    get: (key) =>
      request(() => ({ value: (staleReads ? replica : store).get(key) ?? null }), false),
    delete: (key) => request(() => ({ deleted: store.delete(key) }), true),
    cas: (key, expect, value) =>
      request(() => {
        const current = store.get(key) ?? null;
        if (current !== expect) return { succeeded: false, value: current };
        store.set(key, value);
        return { succeeded: true, value };
      }, true),
    incr: (key, delta) =>
      request(() => {
        const value = Number(store.get(key) ?? "0") + delta;
        store.set(key, String(value));
        return { value };
      }, true),
  };
}

async function runWorkload(seed: number, staleReads: boolean) {
  const rand = random(seed);
  const client = fakeCluster(rand, staleReads);
  const recorder = new HistoryRecorder();
  const values = ["a", "b", "c"];
  const outcomes = { ok: 0, unknown: 0, "nothing-done": 0 };
  await Promise.all(
    Array.from({ length: 4 }, async (_, clientId) => {
      for (let k = 0; k < 40; k++) {
        const key = `k${Math.floor(rand() * 2)}`;
        const value = values[Math.floor(rand() * values.length)]!;
        const r = rand();
        const input: KvInput =
          r < 0.4
            ? { op: "get", key }
            : r < 0.7
              ? { op: "put", key, value }
              : r < 0.85
                ? { op: "cas", key, expect: values[Math.floor(rand() * 3)]!, value }
                : { op: "delete", key };
        const recorded = await recordKv(recorder, client, clientId, input);
        outcomes[recorded.outcome]++;
      }
    }),
  );
  return { history: recorder.history(), outcomes };
}

describe("linearizability - recorded runs", () => {
  test("history recorder - a correct in-memory cluster's recorded history is linearizable", async () => {
    const { history, outcomes } = await runWorkload(12345, false);
    expect(outcomes.unknown).toBeGreaterThan(0);
    expect(outcomes["nothing-done"]).toBeGreaterThan(0);
    expect(history.length).toBe(outcomes.ok + outcomes.unknown);
    const result = checkKvHistory(history);
    expect(result.ok === false ? result.explanation : result.ok).toBe(true);
  });

  test("history recorder - stale reads from a lagging replica are caught", async () => {
    const { history } = await runWorkload(12345, true);
    const result = checkKvHistory(history);
    expect(result.ok).toBe(false);
    expect(result.ok === false && result.explanation).toContain("Cannot place");
  });
});
