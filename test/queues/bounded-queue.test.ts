import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { AssertionError } from "../../queues/assert.js";
import { BoundedQueue } from "../../queues/bounded-queue.js";

describe("bounded-queue", () => {
  test("bounded-queue - peek shows the oldest item and leaves it, across the ring's wrap", () => {
    const queue = new BoundedQueue<number>({ capacityItems: 3 });
    expect(queue.peek()).toBeUndefined();
    for (const n of [1, 2, 3]) queue.pushAssumeCapacity(n);
    expect(queue.peek()).toBe(1);
    expect(queue.depth).toBe(3);
    queue.drain(2);
    queue.pushAssumeCapacity(4); // Wraps past the ring's end.
    expect(queue.peek()).toBe(3);
    queue.drain(1);
    expect(queue.peek()).toBe(4);
  });

  test("bounded-queue - rejects when full under a flood, never past its bounds", () => {
    const queue = new BoundedQueue<number>({ capacityItems: 1_000, capacityBytes: 1 << 20 });
    let accepted = 0;
    let depthMax = 0;
    let bytesMax = 0;
    for (let n = 0; n < 100_000; n++) {
      if (queue.offer(n, 8)) accepted += 1;
      depthMax = Math.max(depthMax, queue.depth);
      bytesMax = Math.max(bytesMax, queue.bytes);
    }
    expect(accepted).toBe(1_000);
    expect(depthMax).toBe(1_000);
    expect(bytesMax).toBe(8_000);
    expect(queue.accepted).toBe(1_000);
    expect(queue.rejected).toBe(99_000);
    expect(queue.depth).toBe(1_000);
    expect(queue.bytes).toBe(8_000);
    expect(queue.fillRatio()).toBe(1);
    // The first 1000 were kept, the rest dropped at the door.
    const batch = queue.drain(1_000_000);
    expect(batch).toEqual(Array.from({ length: 1_000 }, (_, n) => n));
  });

  test("bounded-queue - byte bound rejects before the count bound", () => {
    const queue = new BoundedQueue<string>({ capacityItems: 100, capacityBytes: 100 });
    expect(queue.offer("a", 30)).toBe(true);
    expect(queue.offer("b", 30)).toBe(true);
    expect(queue.offer("c", 30)).toBe(true);
    expect(queue.offer("d", 30)).toBe(false);
    expect(queue.offer("e", 10)).toBe(true); // exactly at the bound
    expect(queue.bytes).toBe(100);
    expect(queue.offer("zero", 0)).toBe(true); // zero-byte items are bounded by count alone
    expect(queue.hasRoom(1, 1)).toBe(false);
    expect(queue.hasRoom(1, 0)).toBe(true);
    expect(queue.fillRatio()).toBe(1);
  });

  test("bounded-queue - rejects a single item larger than capacityBytes", () => {
    const queue = new BoundedQueue<string>({ capacityItems: 10, capacityBytes: 100 });
    expect(queue.offer("huge", 101)).toBe(false);
    expect(queue.depth).toBe(0);
    expect(queue.rejected).toBe(1);
  });

  test("bounded-queue - FIFO order across ring wrap-around and growth", () => {
    const queue = new BoundedQueue<number>({ capacityItems: 50 });
    const out: number[] = [];
    let next = 0;
    for (let round = 0; round < 40; round++) {
      const offers = (round * 7) % 13;
      for (let k = 0; k < offers && queue.hasRoom(1, 0); k++) queue.offer(next++);
      out.push(...queue.drain(1 + (round % 5)));
    }
    out.push(...queue.drain(1_000));
    expect(out).toEqual(Array.from({ length: next }, (_, n) => n));
  });

  test("bounded-queue - drains batches of the right size by items and bytes", () => {
    const queue = new BoundedQueue<number>({ capacityItems: 100 });
    for (let n = 0; n < 10; n++) queue.offer(n, 10);
    expect(queue.drain(4)).toEqual([0, 1, 2, 3]);
    expect(queue.drain(100, 25)).toEqual([4, 5]);
    expect(queue.drain(100, 30)).toEqual([6, 7, 8]);
    expect(queue.drain(100)).toEqual([9]);
    expect(queue.drain(100)).toEqual([]);
    expect(queue.drained).toBe(10);
    expect(queue.bytes).toBe(0);
  });

  test("bounded-queue - a batch takes its first item even when it alone exceeds maxBytes", () => {
    const queue = new BoundedQueue<string>({ capacityItems: 10 });
    queue.offer("big", 500);
    queue.offer("small", 1);
    expect(queue.drain(10, 100)).toEqual(["big"]);
    expect(queue.drain(10, 100)).toEqual(["small"]);
  });

  test("bounded-queue - pushAssumeCapacity asserts when full", () => {
    const queue = new BoundedQueue<number>({ capacityItems: 2, capacityBytes: 10 });
    queue.pushAssumeCapacity(1, 5);
    expect(() => queue.pushAssumeCapacity(2, 6)).toThrow(AssertionError);
    queue.pushAssumeCapacity(2, 5);
    expect(() => queue.pushAssumeCapacity(3, 0)).toThrow(AssertionError);
    expect(queue.depth).toBe(2);
  });

  test("bounded-queue - asserts on bad sizes and limits", () => {
    expect(() => new BoundedQueue({ capacityItems: 0 })).toThrow(AssertionError);
    const queue = new BoundedQueue<number>({ capacityItems: 2 });
    expect(() => queue.offer(1, -1)).toThrow(AssertionError);
    expect(() => queue.offer(1, 1.5)).toThrow(AssertionError);
    expect(() => queue.drain(0)).toThrow(AssertionError);
  });

  test("bounded-queue - records each item's wait through the injected clock", () => {
    let nowMs = 100;
    const waits: number[] = [];
    const queue = new BoundedQueue<string>({
      capacityItems: 10,
      now: () => nowMs,
      drainCallback: (waitMs) => waits.push(waitMs),
    });
    queue.offer("a");
    nowMs = 105;
    queue.offer("b");
    nowMs = 112.5;
    queue.drain(10);
    expect(waits).toEqual([12.5, 7.5]);
  });

  test("bounded-queue - fillRatio is the fuller of the two bounds", () => {
    const queue = new BoundedQueue<number>({ capacityItems: 10, capacityBytes: 1_000 });
    queue.offer(1, 900);
    expect(queue.fillRatio()).toBe(0.9);
    const countOnly = new BoundedQueue<number>({ capacityItems: 4 });
    countOnly.offer(1, 1_000_000);
    expect(countOnly.fillRatio()).toBe(0.25);
    expect(countOnly.capacity).toEqual({ items: 4, bytes: Number.POSITIVE_INFINITY });
  });

  test("bounded-queue - matches an array model under random offers and drains", () => {
    const command = fc.oneof(
      fc.record({ offer: fc.integer({ min: 0, max: 40 }) }),
      fc.record({ drainItems: fc.integer({ min: 1, max: 8 }), drainBytes: fc.nat(80) }),
    );
    fc.assert(
      fc.property(fc.array(command, { maxLength: 200 }), (commands) => {
        const queue = new BoundedQueue<number>({ capacityItems: 12, capacityBytes: 100 });
        const model: { n: number; bytes: number }[] = [];
        let n = 0;
        for (const c of commands) {
          if ("offer" in c) {
            const fits = model.length < 12 && sum(model) + c.offer <= 100;
            expect(queue.offer(n, c.offer)).toBe(fits);
            if (fits) model.push({ n, bytes: c.offer });
            n += 1;
          } else {
            const expected = modelDrain(model, c.drainItems, c.drainBytes);
            expect(queue.drain(c.drainItems, c.drainBytes)).toEqual(expected);
          }
          expect(queue.depth).toBe(model.length);
          expect(queue.bytes).toBe(sum(model));
        }
      }),
      { numRuns: 200 },
    );
  });
});

function sum(model: readonly { bytes: number }[]): number {
  return model.reduce((total, item) => total + item.bytes, 0);
}

function modelDrain(model: { n: number; bytes: number }[], items: number, bytes: number): number[] {
  const out: number[] = [];
  let taken = 0;
  while (model.length > 0 && out.length < items) {
    const head = model[0]!;
    if (out.length > 0 && taken + head.bytes > bytes) break;
    model.shift();
    out.push(head.n);
    taken += head.bytes;
  }
  return out;
}
