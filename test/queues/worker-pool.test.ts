import { existsSync } from "node:fs";
import { threadId as mainThreadId } from "node:worker_threads";
import { afterEach, beforeAll, describe, expect, test } from "vitest";
import { PoolClosedError, WorkerCallError, WorkerExitedError } from "../../queues/errors.js";
import { workerFor } from "../../queues/pool.js";
import { WorkerPool } from "../../queues/worker-pool.js";

const fixture = new URL("./fixtures/echo-worker.mjs", import.meta.url);
const compiledEntry = new URL("../../dist/queues/worker-entry.js", import.meta.url);

interface WhoAmI {
  threadId: number;
  workerData: unknown;
}

const pools: WorkerPool[] = [];
function newPool(size: number): WorkerPool {
  const pool = new WorkerPool(fixture, { size, workerData: (index) => ({ index }) });
  pools.push(pool);
  return pool;
}

describe("worker-pool", () => {
  beforeAll(() => {
    // The fixture loads the compiled worker side; CI builds it in `npm ci` (prepare).
    if (!existsSync(compiledEntry)) throw new Error("run `npx tsc -p tsconfig.json` first");
  });

  afterEach(async () => {
    await Promise.all(pools.splice(0).map((pool) => pool.close()));
  });

  test("worker-pool - runs calls on worker threads, one thread per worker", async () => {
    const pool = newPool(3);
    const answers = await Promise.all(
      [0, 1, 2].map((index) => pool.call<WhoAmI>(index, { op: "whoami" })),
    );
    const threads = answers.map((answer) => answer.threadId);
    expect(threads).not.toContain(mainThreadId);
    expect(new Set(threads).size).toBe(3);
    expect(answers.map((answer) => answer.workerData)).toEqual([
      { index: 0 },
      { index: 1 },
      { index: 2 },
    ]);
    expect(pool.kind).toBe("workers");
    expect(pool.live).toBe(3);
  });

  test("worker-pool - pinned calls always land on the same worker", async () => {
    const pool = newPool(4);
    const group = 42;
    const index = workerFor(group, pool.size);
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => pool.call<WhoAmI>(index, { op: "whoami" })),
    );
    expect(new Set(answers.map((answer) => answer.threadId)).size).toBe(1);
    expect(answers[0]!.workerData).toEqual({ index });
  });

  test('worker-pool - "any" spreads calls over the workers', async () => {
    const pool = newPool(3);
    const answers = await Promise.all(
      Array.from({ length: 9 }, () => pool.call<WhoAmI>("any", { op: "whoami" })),
    );
    expect(new Set(answers.map((answer) => answer.threadId)).size).toBe(3);
  });

  test("worker-pool - transferred buffers arrive intact, both ways", async () => {
    const pool = newPool(1);
    const bytes = Uint8Array.from({ length: 1_000 }, (_, k) => k % 100);
    const buffer = bytes.buffer;
    const sum = await pool.call<number>(0, { op: "sum", buffer }, [buffer]);
    expect(sum).toBe(49_500);
    expect(buffer.byteLength).toBe(0); // moved, not copied
    const again = Uint8Array.from([1, 2, 3, 127]);
    const reply = await pool.call<{ buffer: ArrayBuffer }>(
      0,
      { op: "double", buffer: again.buffer },
      [again.buffer],
    );
    expect([...new Uint8Array(reply.buffer)]).toEqual([2, 4, 6, 254]);
  });

  test("worker-pool - a handler's throw rejects with its message; the worker lives", async () => {
    const pool = newPool(1);
    const before = await pool.call<WhoAmI>(0, { op: "whoami" });
    const failed = pool.call(0, { op: "fail", message: "index out of range" });
    await expect(failed).rejects.toBeInstanceOf(WorkerCallError);
    await expect(failed).rejects.toThrow("index out of range");
    await failed.catch((error: WorkerCallError) => expect(error.remoteName).toBe("RangeError"));
    const after = await pool.call<WhoAmI>(0, { op: "whoami" });
    expect(after.threadId).toBe(before.threadId);
    expect(pool.restarts).toBe(0);
  });

  test("worker-pool - a worker that exits rejects its calls and is replaced", async () => {
    const pool = newPool(2);
    const before = await pool.call<WhoAmI>(1, { op: "whoami" });
    const hung = pool.call(1, { op: "hang" });
    const crashing = pool.call(1, { op: "exit", code: 3 });
    expect(pool.inflight(1)).toBe(2);
    await expect(hung).rejects.toBeInstanceOf(WorkerExitedError);
    await expect(crashing).rejects.toMatchObject({ workerIndex: 1, exitCode: 3 });
    expect(pool.inflight(1)).toBe(0);
    const after = await pool.call<WhoAmI>(1, { op: "whoami" });
    expect(after.threadId).not.toBe(before.threadId);
    expect(after.workerData).toEqual({ index: 1 }); // same slot, same workerData
    expect(pool.restarts).toBe(1);
    expect(pool.live).toBe(2);
  });

  test("worker-pool - an uncaught exception in a worker is the exit's cause", async () => {
    const pool = newPool(1);
    const crashing = pool.call(0, { op: "throwUncaught" });
    await expect(crashing).rejects.toBeInstanceOf(WorkerExitedError);
    await crashing.catch((error: Error) => {
      expect((error.cause as Error).message).toBe("uncaught in worker");
    });
    await expect(pool.call(0, { op: "sum", buffer: new ArrayBuffer(4) })).resolves.toBe(0);
  });

  test("worker-pool - close terminates every worker and rejects calls", async () => {
    const pool = newPool(3);
    await pool.call("any", { op: "whoami" });
    const hung = pool.call(2, { op: "hang" }).catch((error: unknown) => error);
    await pool.close();
    expect(pool.live).toBe(0);
    expect(await hung).toBeInstanceOf(PoolClosedError);
    await expect(pool.call(0, { op: "whoami" })).rejects.toBeInstanceOf(PoolClosedError);
    expect(pool.restarts).toBe(0);
  });
});
