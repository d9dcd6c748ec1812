import { afterEach, describe, expect, test } from "vitest";
import { WorkerCallError } from "../../queues/errors.js";
import { WorkerApiClient } from "../../queues/worker-api.js";
import { WithTransfer } from "../../queues/worker-entry.js";
import { WorkerPool } from "../../queues/worker-pool.js";

/** The API the fixture serves, as its module would declare it. */
type FixtureApi = {
  add(args: { a: number; b: number }): number;
  whoami(args: Record<string, never>): { threadId: number };
  double(args: { buffer: ArrayBuffer }): WithTransfer<{ buffer: ArrayBuffer }>;
  fail(args: { message: string }): Promise<never>;
  toString(args: Record<string, never>): string;
};

const pools: WorkerPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.close()));
});

function client(): WorkerApiClient<FixtureApi> {
  const pool = new WorkerPool(new URL("./fixtures/api-worker.mjs", import.meta.url), { size: 1 });
  pools.push(pool);
  return new WorkerApiClient<FixtureApi>(pool);
}

describe("worker-api", () => {
  test("worker-api - a call names a method and gets its result; transferred buffers move", async () => {
    const api = client();
    expect(await api.call(0, "add", { a: 2, b: 40 })).toBe(42);
    const bytes = new Uint8Array([1, 2, 3]);
    const { buffer } = await api.call(0, "double", { buffer: bytes.buffer }, [bytes.buffer]);
    expect(bytes.byteLength).toBe(0); // moved to the worker, not copied
    expect([...new Uint8Array(buffer)]).toEqual([2, 4, 6]);
    expect(new WithTransfer(1, [])).toBeInstanceOf(WithTransfer);
  });

  test("worker-api - a method's throw and an unknown method reject the call; the worker lives on", async () => {
    const api = client();
    await expect(api.call(0, "fail", { message: "no" })).rejects.toBeInstanceOf(WorkerCallError);
    await expect(api.call(0, "fail", { message: "no" })).rejects.toThrow(/no/);
    await expect(api.call(0, "toString", {})).rejects.toThrow(/no method "toString"/);
    expect((await api.call(0, "whoami", {})).threadId).toBeGreaterThan(0);
  });
});
