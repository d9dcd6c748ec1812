import { describe, expect, test } from "vitest";
import { AssertionError } from "../../queues/assert.js";
import { BoundedQueue } from "../../queues/bounded-queue.js";
import {
  AdmissionController,
  BatchingController,
  LatencyLimiter,
} from "../../queues/controller.js";
import { Stage } from "../../queues/stage.js";

describe("batching-controller", () => {
  test("batching-controller - decreases when slow, increases when fast", () => {
    const controller = new BatchingController({
      maxItems: 128,
      minItems: 2,
      targetServiceMs: 10,
      increaseItems: 4,
    });
    expect(controller.limit).toBe(128);
    // Slow: 100 ms per batch against a 10 ms target, whatever the size.
    const slow: number[] = [];
    for (let k = 0; k < 20; k++) slow.push(controller.observe(controller.limit, 100));
    expect(slow.slice(0, 3)).toEqual([64, 32, 16]); // multiplicative decrease
    expect(slow.every((limit, k) => k === 0 || limit <= slow[k - 1]!)).toBe(true);
    expect(controller.limit).toBe(2); // floored at minItems
    // Fast: 0.01 ms per item. Once the EWMA forgets the slow spell, full batches let the limit
    // climb back additively, 4 at a time.
    const fast: number[] = [];
    for (let k = 0; k < 100; k++) fast.push(controller.observe(controller.limit, 0.01));
    const steps = fast.map((limit, k) => limit - (k === 0 ? 2 : fast[k - 1]!));
    expect(steps.every((step) => step === 0 || step === 4 || step === 2)).toBe(true);
    expect(steps.filter((step) => step === 4).length).toBeGreaterThan(20);
    expect(controller.limit).toBe(128); // capped at maxItems
  });

  test("batching-controller - settles where a batch takes about the target", () => {
    // 1 ms per item and a 10 ms target: the limit hovers around 10 items.
    const controller = new BatchingController({
      maxItems: 1_000,
      targetServiceMs: 10,
      increaseItems: 1,
    });
    const limits: number[] = [];
    for (let k = 0; k < 200; k++)
      limits.push(controller.observe(controller.limit, controller.limit));
    const tail = limits.slice(-50);
    expect(Math.min(...tail)).toBeGreaterThanOrEqual(4);
    expect(Math.max(...tail)).toBeLessThanOrEqual(30);
  });

  test("batching-controller - partial batches do not raise the limit", () => {
    const controller = new BatchingController({
      maxItems: 64,
      targetServiceMs: 10,
      initialItems: 8,
    });
    for (let k = 0; k < 50; k++) controller.observe(3, 0.1);
    expect(controller.limit).toBe(8);
    controller.observe(8, 0.1);
    expect(controller.limit).toBe(9); // default step: max(1, 64 / 64)
  });

  test("batching-controller - stays in [minItems, maxItems] and is deterministic", () => {
    const feed = (controller: BatchingController) =>
      Array.from({ length: 300 }, (_, k) => {
        const serviceMs = (k * 7919) % 97; // a fixed, jumpy sequence
        return controller.observe(controller.limit, serviceMs);
      });
    const options = { maxItems: 50, minItems: 5, targetServiceMs: 40 };
    const a = feed(new BatchingController(options));
    const b = feed(new BatchingController(options));
    expect(a).toEqual(b);
    expect(Math.min(...a)).toBeGreaterThanOrEqual(5);
    expect(Math.max(...a)).toBeLessThanOrEqual(50);
  });

  test("batching-controller - asserts on inconsistent bounds", () => {
    expect(() => new BatchingController({ maxItems: 4, minItems: 8, targetServiceMs: 1 })).toThrow(
      AssertionError,
    );
    expect(() => new BatchingController({ maxItems: 4, targetServiceMs: 0 })).toThrow(
      AssertionError,
    );
  });
});

describe("admission-controller", () => {
  test("admission-controller - rejects when a downstream queue passes the high-water mark", () => {
    const wal = new BoundedQueue<number>({ capacityItems: 10 });
    const apply = new BoundedQueue<number>({ capacityItems: 100, capacityBytes: 1_000 });
    const admission = new AdmissionController([wal, apply]);
    expect(admission.highWater).toBe(0.9);
    for (let n = 0; n < 8; n++) wal.offer(n);
    expect(admission.admit()).toBe(true); // 0.8
    wal.offer(8);
    expect(admission.admit()).toBe(false); // 0.9 is the high-water mark
    wal.drain(5);
    expect(admission.admit()).toBe(true);
    apply.offer(0, 950); // bytes count too
    expect(admission.admit()).toBe(false);
    expect([admission.admitted, admission.refused]).toEqual([2, 2]);
  });

  test("admission-controller - watches stages with a configurable mark", async () => {
    const stage = new Stage<number>("wal", () => {}, { capacityItems: 4 });
    const admission = new AdmissionController([stage], { highWater: 0.5 });
    stage.offer(1);
    expect(admission.admit()).toBe(true);
    stage.offer(2);
    expect(admission.admit()).toBe(false);
    await stage.idle();
    expect(admission.admit()).toBe(true);
    await stage.close();
  });
});

describe("latency-limiter", () => {
  const feed = (limiter: LatencyLimiter, latencyMs: number, count = 128) => {
    for (let k = 0; k < count; k++) limiter.observe(latencyMs);
  };

  test("latency-limiter - starts at minLimit and grows only while the limit binds and p90 is under target", () => {
    const limiter = new LatencyLimiter({ targetMs: 100, minLimit: 64, maxLimit: 1_000 });
    expect(limiter.limit).toBe(64);
    feed(limiter, 10); // fast, but the limit never bound: no growth
    expect(limiter.limit).toBe(64);
    expect(limiter.admits(63)).toBe(true); // the 64th request binds the limit
    feed(limiter, 10);
    expect(limiter.limit).toBe(72); // + an eighth
    for (let round = 0; round < 40; round++) {
      limiter.admits(limiter.limit - 1);
      feed(limiter, 10);
    }
    expect(limiter.limit).toBe(1_000); // capped
  });

  test("latency-limiter - a window whose p90 passes the target shrinks the limit, never below minLimit", () => {
    const limiter = new LatencyLimiter({ targetMs: 100, minLimit: 64, maxLimit: 4_096 });
    for (let round = 0; round < 30; round++) {
      limiter.admits(limiter.limit);
      feed(limiter, 10);
    }
    const grown = limiter.limit;
    expect(grown).toBeGreaterThan(1_000);
    // 85% fast, 15% slow: the p90 is slow.
    feed(limiter, 10, 109);
    feed(limiter, 500, 19);
    expect(limiter.limit).toBe(Math.floor(grown * 0.75));
    // 95% fast: the p90 is fast; the limit did not bind, so it stays.
    feed(limiter, 10, 122);
    feed(limiter, 500, 6);
    expect(limiter.limit).toBe(Math.floor(grown * 0.75));
    for (let round = 0; round < 30; round++) feed(limiter, 1_000);
    expect(limiter.limit).toBe(64);
    expect(limiter.admits(63)).toBe(true);
    expect(limiter.admits(64)).toBe(false);
  });

  test("latency-limiter - bad options are refused", () => {
    expect(() => new LatencyLimiter({ targetMs: 0, minLimit: 1, maxLimit: 2 })).toThrow(/targetMs/);
    expect(() => new LatencyLimiter({ targetMs: 1, minLimit: 3, maxLimit: 2 })).toThrow(/minLimit/);
    expect(() => new LatencyLimiter({ targetMs: 1, minLimit: 1, maxLimit: 2, window: 2 })).toThrow(
      /window/,
    );
  });

  test("admission-controller - with a limiter, refuses past the requests-in-flight limit", () => {
    const queue = new BoundedQueue<number>({ capacityItems: 100 });
    let inflight = 0;
    const limiter = new LatencyLimiter({ targetMs: 50, minLimit: 10, maxLimit: 100 });
    const admission = new AdmissionController([queue], { limiter, inflight: () => inflight });
    expect(admission.limit).toBe(10);
    while (admission.admit()) inflight++;
    expect(inflight).toBe(10);
    for (let k = 0; k < 128; k++) admission.observe(5);
    expect(admission.limit).toBe(12); // grown: it bound and answers were fast
    expect(admission.admit()).toBe(true);
    expect(() => new AdmissionController([queue], { limiter })).toThrow(/in flight/);
  });
});
