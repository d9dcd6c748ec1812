import { describe, expect, test } from "vitest";
import { type BatchEvent, Stage } from "../../queues/stage.js";

/** A promise the test settles by hand, to hold a batch in flight. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

describe("stage", () => {
  test("stage - processes each accepted item once, in order, at concurrency 1", async () => {
    const seen: number[] = [];
    const stage = new Stage<number>(
      "apply",
      async (batch) => {
        await Promise.resolve();
        seen.push(...batch);
      },
      { capacityItems: 100, batch: { maxItems: 16 } },
    );
    const total = 5_000;
    let next = 0;
    for (let round = 0; next < total && round < 1_000; round++) {
      while (next < total && stage.offer(next)) next += 1; // offer until pushed back
      await stage.idle();
    }
    expect(seen).toEqual(Array.from({ length: total }, (_, n) => n));
    const s = stage.snapshot();
    expect(s.processed).toBe(total);
    expect(s.accepted).toBe(total);
    expect(s.rejected).toBeGreaterThan(0); // the producer was pushed back along the way
    expect(s.batchSizeP99).toBeLessThanOrEqual(16);
    await stage.close();
  });

  test("stage - rejects when full and says so", async () => {
    const stage = new Stage<number>("wal", () => {}, { capacityItems: 10 });
    const rejected: number[] = [];
    stage.on("rejected", (item) => rejected.push(item));
    const accepted = Array.from({ length: 25 }, (_, n) => stage.offer(n)).filter(Boolean).length;
    expect(accepted).toBe(10);
    expect(rejected).toEqual(Array.from({ length: 15 }, (_, n) => n + 10));
    expect(stage.depth).toBe(10);
    expect(stage.snapshot()).toMatchObject({ accepted: 10, rejected: 15, queueDepth: 10 });
    await stage.close();
    expect(stage.snapshot().processed).toBe(10);
  });

  test("stage - byte bounds apply to the queue and to batches", async () => {
    const batches: string[][] = [];
    const stage = new Stage<string>("net", (batch) => void batches.push(batch), {
      capacityItems: 100,
      capacityBytes: 100,
      sizeOf: (item) => item.length,
      batch: { maxItems: 100, maxBytes: 20 },
    });
    const items = ["aaaaaaaaaa", "bbbbbbbbbb", "cccccccccc", "ddddddddddddddddddddddddd"];
    for (const item of items) expect(stage.offer(item)).toBe(true);
    expect(stage.offer("e".repeat(46))).toBe(false); // 55 + 46 > 100
    expect(stage.offer("x", 200)).toBe(false); // an explicit size wins over sizeOf
    await stage.idle();
    expect(batches).toEqual([items.slice(0, 2), items.slice(2, 3), items.slice(3, 4)]);
    await stage.close();
  });

  test("stage - handler errors are reported and do not kill the stage", async () => {
    const seen: number[] = [];
    const errors: [string, readonly number[]][] = [];
    const stage = new Stage<number>(
      "apply",
      (batch) => {
        if (batch.includes(3)) throw new Error("bad entry 3");
        seen.push(...batch);
      },
      { capacityItems: 100, batch: { maxItems: 2 } },
    );
    stage.on("error", (error, batch) => errors.push([error.message, batch]));
    for (let n = 0; n < 8; n++) stage.offer(n);
    await stage.idle();
    expect(errors).toEqual([["bad entry 3", [2, 3]]]);
    expect(seen).toEqual([0, 1, 4, 5, 6, 7]);
    stage.offer(8); // still alive
    await stage.idle();
    expect(seen.at(-1)).toBe(8);
    expect(stage.snapshot()).toMatchObject({ errors: 1, processed: 9, batches: 5 });
    await stage.close();
  });

  test("stage - async rejections and non-Error throws are reported too", async () => {
    const messages: string[] = [];
    const stage = new Stage<number>(
      "apply",
      async (batch) => {
        if (batch[0] === 0) throw "plain string"; // a careless handler throws a non-Error
        await Promise.reject(new Error("async failure"));
      },
      { capacityItems: 10, batch: { maxItems: 1 } },
    );
    stage.on("error", (error) => messages.push(error.message));
    stage.offer(0);
    stage.offer(1);
    await stage.idle();
    expect(messages).toEqual(["plain string", "async failure"]);
    await stage.close();
  });

  test("stage - at most `concurrency` batches are in flight", async () => {
    const gates: { open: () => void }[] = [];
    let running = 0;
    let runningMax = 0;
    const stage = new Stage<number>(
      "wal",
      async () => {
        running += 1;
        runningMax = Math.max(runningMax, running);
        const g = gate();
        gates.push(g);
        await g.promise;
        running -= 1;
      },
      { capacityItems: 1_000, concurrency: 3, batch: { maxItems: 4 } },
    );
    for (let n = 0; n < 40; n++) stage.offer(n);
    const done = stage.idle();
    // Open the gates one turn at a time; the stage must never start a fourth batch.
    for (let turn = 0; turn < 200 && stage.depth + stage.inflight > 0; turn++) {
      await new Promise((resolve) => setImmediate(resolve));
      expect(stage.inflight).toBeLessThanOrEqual(3);
      gates.shift()?.open();
    }
    await done;
    expect(runningMax).toBe(3);
    expect(stage.snapshot()).toMatchObject({ processed: 40, batches: 10 });
    await stage.close();
  });

  test("stage - synchronous handlers at concurrency 2 process everything once", async () => {
    const seen: number[] = [];
    const stage = new Stage<number>(
      "apply",
      (batch) => {
        if (batch[0]! % 10 === 0) throw new Error("every tenth batch fails");
        seen.push(...batch);
      },
      { capacityItems: 1_000, concurrency: 2, batch: { maxItems: 1 } },
    );
    let errors = 0;
    stage.on("error", () => {
      errors += 1;
    });
    for (let n = 0; n < 500; n++) stage.offer(n);
    await stage.idle();
    expect(seen.length + errors).toBe(500);
    expect(new Set(seen).size).toBe(seen.length);
    expect(errors).toBe(50);
    await stage.close();
  });

  test("stage - batches up to the limit and emits batch events", async () => {
    const events: BatchEvent[] = [];
    const stage = new Stage<number>("apply", () => {}, {
      capacityItems: 100,
      batch: { maxItems: 8 },
    });
    stage.on("batch", (event) => events.push(event));
    for (let n = 0; n < 20; n++) stage.offer(n);
    await stage.idle();
    expect(events.map((e) => e.size)).toEqual([8, 8, 4]);
    await stage.close();
  });

  test("stage - a target service time lets the controller shrink batches", async () => {
    const clock = { nowMs: 0 };
    const sizes: number[] = [];
    const stage = new Stage<number>(
      "apply",
      (batch) => {
        sizes.push(batch.length);
        clock.nowMs += batch.length; // 1 ms per item, on the injected clock
      },
      {
        capacityItems: 10_000,
        batch: { maxItems: 256, targetServiceMs: 16, minItems: 2 },
        now: () => clock.nowMs,
      },
    );
    expect(stage.batchLimit).toBe(256);
    for (let n = 0; n < 5_000; n++) stage.offer(n);
    await stage.idle();
    expect(sizes[0]).toBe(256);
    expect(sizes[1]).toBe(128);
    expect(stage.batchLimit).toBeLessThanOrEqual(32); // near the 16-item target, well below 256
    expect(stage.batchLimit).toBeGreaterThanOrEqual(2);
    expect(stage.snapshot().batchLimit).toBe(stage.batchLimit);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(5_000);
    await stage.close();
  });

  test("stage - close stops accepting and resolves when drained", async () => {
    const seen: number[] = [];
    const g = gate();
    const stage = new Stage<number>(
      "respond",
      async (batch) => {
        await g.promise;
        seen.push(...batch);
      },
      { capacityItems: 10 },
    );
    stage.offer(1);
    stage.offer(2);
    let closed = false;
    const closing = stage.close().then(() => {
      closed = true;
    });
    expect(stage.offer(3)).toBe(false);
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(false);
    g.open();
    await closing;
    expect(seen).toEqual([1, 2]);
    expect(stage.snapshot()).toMatchObject({ accepted: 2, rejected: 1, processed: 2 });
  });

  test("stage - reports wait times and pool settings in its snapshot", async () => {
    const clock = { nowMs: 1_000 };
    const stage = new Stage<number>("engine", () => {}, {
      capacityItems: 10,
      poolKind: "workers",
      poolSize: 4,
      now: () => clock.nowMs,
    });
    stage.offer(1);
    clock.nowMs += 7;
    await stage.idle();
    expect(stage.snapshot()).toMatchObject({
      name: "engine",
      poolKind: "workers",
      poolSize: 4,
      queueCapacityItems: 10,
      queueCapacityBytes: null,
      batchLimit: 64,
    });
    expect(stage.snapshot().waitMsP50).toBeCloseTo(7, 1); // 2 significant digits
    await stage.close();
  });
});
