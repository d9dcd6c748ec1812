import { describe, expect, test } from "vitest";
import { AssertionError } from "../../queues/assert.js";
import { PoolClosedError, PoolFullError } from "../../queues/errors.js";
import { InlinePool, workerFor } from "../../queues/pool.js";

describe("inline-pool", () => {
  test("inline-pool - runs at most `concurrency` tasks at once, returning results", async () => {
    const pool = new InlinePool(2);
    let running = 0;
    let runningMax = 0;
    const task = (n: number) => async () => {
      running += 1;
      runningMax = Math.max(runningMax, running);
      expect(pool.busy).toBeLessThanOrEqual(2);
      await new Promise((resolve) => setImmediate(resolve));
      running -= 1;
      return n * 2;
    };
    const results = await Promise.all([1, 2, 3, 4, 5].map((n) => pool.run(task(n))));
    expect(results).toEqual([2, 4, 6, 8, 10]);
    expect(runningMax).toBe(2);
    expect(pool.kind).toBe("inline");
    expect(pool.size).toBe(2);
    await pool.close();
  });

  test("inline-pool - a task's throw rejects its own run only", async () => {
    const pool = new InlinePool(1);
    const failed = pool.run(() => {
      throw new Error("boom");
    });
    await expect(failed).rejects.toThrow("boom");
    await expect(pool.run(() => 7)).resolves.toBe(7);
    await pool.close();
  });

  test("inline-pool - refuses past waitingMax and after close", async () => {
    const pool = new InlinePool(1, { waitingMax: 1 });
    let release = () => {};
    const running = pool.run(() => new Promise<void>((resolve) => (release = resolve)));
    const waiting = pool.run(() => "second");
    await expect(pool.run(() => "third")).rejects.toBeInstanceOf(PoolFullError);
    expect(pool.waiting).toBe(1);
    const closing = pool.close();
    await expect(pool.run(() => "late")).rejects.toBeInstanceOf(PoolClosedError);
    release();
    await running;
    await expect(waiting).resolves.toBe("second"); // close lets taken work finish
    await closing;
  });
});

describe("worker-for", () => {
  test("worker-for - pins a key to one worker and spreads sequential keys", () => {
    expect(workerFor(7, 4)).toBe(workerFor(7, 4));
    const counts = [0, 0, 0, 0];
    for (let group = 0; group < 400; group++) counts[workerFor(group, 4)]! += 1;
    expect(counts).toEqual([100, 100, 100, 100]);
    expect(() => workerFor(-1, 4)).toThrow(AssertionError);
    expect(() => workerFor(1, 0)).toThrow(AssertionError);
  });
});
