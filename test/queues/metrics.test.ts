import { describe, expect, test } from "vitest";
import { BoundedQueue } from "../../queues/bounded-queue.js";
import { StageMetrics } from "../../queues/metrics.js";
import { SlidingWindow } from "../../queues/sliding-window.js";

function setup(concurrency = 1) {
  const clock = { nowMs: 0 };
  const now = () => clock.nowMs;
  const queue = new BoundedQueue<number>({ capacityItems: 100, capacityBytes: 4_096, now });
  const metrics = new StageMetrics({
    name: "apply",
    poolKind: "workers",
    poolSize: 4,
    concurrency,
    queue,
    batchLimit: () => 32,
    now,
    windowMs: 5_000,
  });
  return { clock, queue, metrics };
}

describe("metrics", () => {
  test("metrics - percentiles of wait, service time and batch size", () => {
    const { metrics } = setup();
    for (let ms = 1; ms <= 100; ms++) {
      metrics.recordWait(ms);
      metrics.recordBatch(ms, ms / 10);
    }
    const s = metrics.snapshot();
    // Two significant digits: within 1% of the exact order statistic.
    expect(s.waitMsP50).toBeCloseTo(50, -0.3);
    expect(s.waitMsP99).toBeCloseTo(99, -0.3);
    expect(s.serviceMsP50).toBeCloseTo(5, 1);
    expect(s.serviceMsP99).toBeCloseTo(9.9, 1);
    expect(s.batchSizeP50).toBe(50);
    expect(s.batchSizeP99).toBe(99);
    expect(s.processed).toBe(5_050);
    expect(s.batches).toBe(100);
  });

  test("metrics - sub-millisecond times keep their decimals", () => {
    const { metrics } = setup();
    metrics.recordWait(0.25);
    metrics.recordBatch(1, 0.125);
    const s = metrics.snapshot();
    expect(s.waitMsP50).toBeCloseTo(0.25, 2);
    expect(s.serviceMsP99).toBeCloseTo(0.125, 2);
  });

  test("metrics - throughput and utilisation over the sliding window", () => {
    const { clock, metrics } = setup(2);
    clock.nowMs = 10_000;
    metrics.reset(); // the window starts now
    for (let k = 0; k < 10; k++) {
      clock.nowMs = 10_250 + k * 500;
      metrics.recordBatch(100, 250);
    }
    clock.nowMs = 14_999;
    const s = metrics.snapshot();
    expect(s.throughputPerSec).toBeCloseTo(200, 0); // 1000 items in 5 s
    expect(s.utilisation).toBeCloseTo(0.25, 3); // 2500 ms busy of 5 s × 2 slots
    clock.nowMs += 20_000; // the window slides past all of it
    const later = metrics.snapshot();
    expect(later.throughputPerSec).toBe(0);
    expect(later.utilisation).toBe(0);
    expect(later.processed).toBe(1_000); // counters are cumulative
  });

  test("metrics - reset clears the windowed parts and keeps the counters", () => {
    const { clock, metrics } = setup();
    metrics.recordOffer(true);
    metrics.recordOffer(false);
    metrics.recordWait(3);
    clock.nowMs = 100;
    metrics.recordBatch(5, 2);
    metrics.recordError();
    metrics.reset();
    const s = metrics.snapshot();
    expect([s.waitMsP99, s.serviceMsP99, s.batchSizeP99, s.throughputPerSec]).toEqual([0, 0, 0, 0]);
    expect([s.accepted, s.rejected, s.processed, s.batches, s.errors]).toEqual([1, 1, 5, 1, 1]);
  });

  test("metrics - snapshot is plain JSON with the queue's gauges", () => {
    const { queue, metrics } = setup();
    queue.offer(1, 100);
    queue.offer(2, 28);
    const s = metrics.snapshot();
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
    expect(s).toMatchObject({
      name: "apply",
      poolKind: "workers",
      poolSize: 4,
      queueDepth: 2,
      queueBytes: 128,
      queueCapacityItems: 100,
      queueCapacityBytes: 4_096,
      batchLimit: 32,
    });
  });
});

describe("sliding-window", () => {
  test("sliding-window - forgets buckets older than the window", () => {
    const window = new SlidingWindow(1_000, 10, 0);
    window.add(50, 5, 10);
    window.add(950, 7, 20);
    expect(window.totals(999)).toEqual({ items: 12, busyMs: 30, spanMs: 999 });
    expect(window.totals(1_050).items).toBe(7); // the first bucket [0, 100) slid out
    expect(window.totals(2_000).items).toBe(0);
    window.add(5_000, 1, 0); // reuses a slot from an older lap
    expect(window.totals(5_000).items).toBe(1);
  });

  test("sliding-window - spans only the time since the reset", () => {
    const window = new SlidingWindow(1_000, 10, 0);
    window.reset(10_000);
    window.add(10_200, 4, 0);
    expect(window.totals(10_400)).toEqual({ items: 4, busyMs: 0, spanMs: 400 });
  });
});

describe("metrics - percentiles over a sliding window", () => {
  test("metrics - percentiles decay to empty on an idle window", () => {
    const { clock, metrics } = setup();
    clock.nowMs = 1_000;
    for (let k = 0; k < 50; k++) {
      metrics.recordWait(400);
      metrics.recordBatch(4, 380);
    }
    const busy = metrics.snapshot();
    expect(busy.waitMsP99).toBeCloseTo(400, -1);
    expect(busy.percentileSamples).toBe(50);
    // Half a window later the old samples still count beside new ones.
    clock.nowMs = 1_000 + metrics.percentileWindowMs / 2;
    metrics.recordWait(2);
    metrics.recordBatch(1, 1);
    expect(metrics.snapshot().percentileSamples).toBe(51);
    // A window with nothing recorded: no stale p99, and the snapshot says it is empty.
    clock.nowMs = 1_000 + metrics.percentileWindowMs * 2;
    const idle = metrics.snapshot();
    expect(idle.percentileSamples).toBe(0);
    expect([idle.waitMsP99, idle.serviceMsP99, idle.batchSizeP99]).toEqual([0, 0, 0]);
    expect(idle.percentileWindowMs).toBe(metrics.percentileWindowMs);
    expect(idle.processed).toBe(201); // counters are cumulative
  });

  test("metrics - the observer sees every wait and service time", () => {
    const { metrics } = setup();
    const seen: string[] = [];
    metrics.observer = {
      wait: (ms) => seen.push(`wait ${ms}`),
      service: (ms) => seen.push(`service ${ms}`),
    };
    metrics.recordWait(3);
    metrics.recordBatch(2, 7);
    expect(seen).toEqual(["wait 3", "service 7"]);
  });
});
