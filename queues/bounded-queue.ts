import { assert } from "./assert.js";

/** The fixed bounds of a queue. Both hold at all times: a queue never grows past them. */
export interface QueueCapacity {
  readonly items: number;
  readonly bytes: number;
}

export interface BoundedQueueOptions {
  readonly capacityItems: number;
  /** Defaults to Infinity: bounded by count alone. */
  readonly capacityBytes?: number;
  /** Milliseconds; injectable so that tests and remu control time. */
  readonly now?: () => number;
  /** Called by drain() once per item with its enqueue→drain wait (feeds the stage metrics). */
  readonly drainCallback?: (waitMs: number) => void;
}

/** The ring starts small and doubles up to capacity, so a large bound costs nothing until used. */
const ringItemsInitial = 16;

/**
 * A FIFO bounded by item count and bytes, on a ring buffer (TB `ring_buffer.zig`): `offer` fails
 * fast when full so that the caller pushes back, `pushAssumeCapacity` asserts there is room.
 * Invariant: 0 <= depth <= capacity.items and 0 <= bytes <= capacity.bytes.
 */
export class BoundedQueue<T> {
  readonly capacity: QueueCapacity;
  private readonly now: () => number;
  private readonly drainCallback: ((waitMs: number) => void) | undefined;
  // Parallel rings: slot k holds one item, its size and its enqueue time.
  private items: (T | undefined)[];
  private sizes: Float64Array;
  private enqueuedAt: Float64Array;
  // Invariant: head < ring length; the item count is `count`, the byte total `bytesTotal`.
  private head = 0;
  private count = 0;
  private bytesTotal = 0;
  private acceptedCount = 0;
  private rejectedCount = 0;
  private drainedCount = 0;

  constructor(options: BoundedQueueOptions) {
    const capacityBytes = options.capacityBytes ?? Number.POSITIVE_INFINITY;
    assert(Number.isSafeInteger(options.capacityItems), "bounded queue: capacityItems integer");
    assert(options.capacityItems >= 1, "bounded queue: capacityItems must be >= 1");
    assert(capacityBytes >= 1, "bounded queue: capacityBytes must be >= 1");
    this.capacity = { items: options.capacityItems, bytes: capacityBytes };
    this.now = options.now ?? (() => performance.now());
    this.drainCallback = options.drainCallback;
    const ringItems = Math.min(ringItemsInitial, options.capacityItems);
    this.items = new Array<T | undefined>(ringItems);
    this.sizes = new Float64Array(ringItems);
    this.enqueuedAt = new Float64Array(ringItems);
  }

  get depth(): number {
    return this.count;
  }

  get bytes(): number {
    return this.bytesTotal;
  }

  get accepted(): number {
    return this.acceptedCount;
  }

  get rejected(): number {
    return this.rejectedCount;
  }

  get drained(): number {
    return this.drainedCount;
  }

  hasRoom(items: number, bytes: number): boolean {
    assert(items >= 0 && bytes >= 0, "bounded queue: hasRoom of a negative amount");
    return (
      this.count + items <= this.capacity.items && this.bytesTotal + bytes <= this.capacity.bytes
    );
  }

  /** The fuller of the two bounds, in [0, 1]: what admission control compares to a high-water. */
  fillRatio(): number {
    const itemsRatio = this.count / this.capacity.items;
    const bytesRatio = this.bytesTotal / this.capacity.bytes;
    return Math.max(itemsRatio, bytesRatio);
  }

  /** The oldest item, left in the queue (undefined: empty). */
  peek(): T | undefined {
    return this.count > 0 ? this.items[this.head] : undefined;
  }

  /** Never blocks: false means full (or the item alone exceeds capacityBytes); push back. */
  offer(item: T, bytes = 0): boolean {
    assertItemBytes(bytes);
    if (!this.hasRoom(1, bytes)) {
      this.rejectedCount += 1;
      return false;
    }
    this.push(item, bytes);
    return true;
  }

  /** For callers that checked hasRoom() first: a full queue here is a programmer error. */
  pushAssumeCapacity(item: T, bytes = 0): void {
    assertItemBytes(bytes);
    assert(this.hasRoom(1, bytes), "bounded queue: pushAssumeCapacity on a full queue");
    this.push(item, bytes);
  }

  /**
   * Removes a FIFO batch of at most maxItems items and maxBytes bytes, except that the first item
   * is always taken: a batch limit smaller than one item must not wedge the queue.
   */
  drain(maxItems: number, maxBytes = Number.POSITIVE_INFINITY): T[] {
    assert(Number.isSafeInteger(maxItems) && maxItems >= 1, "bounded queue: drain maxItems >= 1");
    const batch: T[] = [];
    let batchBytes = 0;
    const nowMs = this.count > 0 ? this.now() : 0;
    while (this.count > 0 && batch.length < maxItems) {
      const slot = this.head;
      const size = this.sizes[slot]!;
      if (batch.length > 0 && batchBytes + size > maxBytes) break;
      batch.push(this.items[slot] as T);
      batchBytes += size;
      this.drainCallback?.(Math.max(0, nowMs - this.enqueuedAt[slot]!));
      this.items[slot] = undefined; // Let the item be collected.
      this.head = (slot + 1) % this.items.length;
      this.count -= 1;
      this.bytesTotal -= size;
    }
    this.drainedCount += batch.length;
    assert(this.count >= 0 && this.bytesTotal >= 0, "bounded queue: drained below empty");
    return batch;
  }

  private push(item: T, bytes: number): void {
    if (this.count === this.items.length) this.grow();
    const slot = (this.head + this.count) % this.items.length;
    this.items[slot] = item;
    this.sizes[slot] = bytes;
    this.enqueuedAt[slot] = this.now();
    this.count += 1;
    this.bytesTotal += bytes;
    this.acceptedCount += 1;
    assert(this.count <= this.capacity.items, "bounded queue: depth past capacity");
    assert(this.bytesTotal <= this.capacity.bytes, "bounded queue: bytes past capacity");
  }

  /** Doubles the ring (up to capacity), unrolling it so that head becomes 0. */
  private grow(): void {
    const ringItems = Math.min(this.items.length * 2, this.capacity.items);
    assert(ringItems > this.items.length, "bounded queue: grow past capacity");
    const items = new Array<T | undefined>(ringItems);
    const sizes = new Float64Array(ringItems);
    const enqueuedAt = new Float64Array(ringItems);
    for (let k = 0; k < this.count; k++) {
      const slot = (this.head + k) % this.items.length;
      items[k] = this.items[slot];
      sizes[k] = this.sizes[slot]!;
      enqueuedAt[k] = this.enqueuedAt[slot]!;
    }
    this.items = items;
    this.sizes = sizes;
    this.enqueuedAt = enqueuedAt;
    this.head = 0;
  }
}

function assertItemBytes(bytes: number): void {
  assert(Number.isSafeInteger(bytes) && bytes >= 0, `bounded queue: bad item size ${bytes}`);
}
