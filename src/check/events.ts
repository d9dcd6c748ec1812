/**
 * The search's data structures: a partition's call and return events as a doubly linked list
 * (unlinked as operations are linearized, relinked on backtracking), and the set of
 * linearized operations with an incremental hash for Lowe's cache.
 */

import type { Operation } from "./history.js";

/** An operation of one partition, with its place in the whole history. */
export interface Item<I, O> {
  readonly index: number;
  readonly op: Operation<I, O>;
  readonly returned: boolean;
}

export interface Entry {
  readonly isCall: boolean;
  /** The operation: its index in the partition. */
  readonly id: number;
  readonly time: number;
  /** Position in time order (ties: calls first). */
  position: number;
  prev: Entry | null;
  next: Entry | null;
  /** A call's return event; null for returns and for operations that never returned. */
  match: Entry | null;
}

/**
 * The set of linearized operations, with an incrementally kept (Zobrist) hash of the part
 * made of operations that returned: configurations differing only in never-returned
 * operations share a hash bucket, where the cache compares them by inclusion.
 */
export class Bitset {
  readonly words: Uint32Array;
  /** Bits of the operations that never returned. */
  readonly pendingMask: Uint32Array;
  private readonly salts: Uint32Array;
  hash = 0;

  constructor(items: readonly { readonly returned: boolean }[]) {
    const size = Math.ceil(items.length / 32);
    this.words = new Uint32Array(size);
    this.pendingMask = new Uint32Array(size);
    this.salts = new Uint32Array(items.length);
    let x = 0x9e3779b9;
    items.forEach((item, id) => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      if (item.returned) this.salts[id] = x >>> 0;
      else this.pendingMask[id >>> 5]! |= 1 << (id & 31);
    });
  }

  has(id: number): boolean {
    return (this.words[id >>> 5]! & (1 << (id & 31))) !== 0;
  }

  set(id: number): void {
    this.words[id >>> 5]! |= 1 << (id & 31);
    this.hash = (this.hash ^ this.salts[id]!) >>> 0;
  }

  clear(id: number): void {
    this.words[id >>> 5]! &= ~(1 << (id & 31));
    this.hash = (this.hash ^ this.salts[id]!) >>> 0;
  }

  /** `words` is this set less some never-returned operations (or this set itself). */
  covers(words: Uint32Array): boolean {
    for (let k = 0; k < words.length; k++) {
      const mine = this.words[k]!;
      const theirs = words[k]!;
      if ((theirs & ~mine) !== 0 || ((theirs ^ mine) & ~this.pendingMask[k]!) !== 0) return false;
    }
    return true;
  }
}

/** The events of a partition as a linked list behind a head sentinel. */
export function buildEvents<I, O>(items: readonly Item<I, O>[]): { head: Entry; calls: Entry[] } {
  const events: Entry[] = [];
  const calls: Entry[] = [];
  items.forEach((item, id) => {
    const call: Entry = {
      isCall: true,
      id,
      time: item.op.call,
      position: 0,
      prev: null,
      next: null,
      match: null,
    };
    calls.push(call);
    events.push(call);
    if (item.returned) {
      const ret: Entry = {
        isCall: false,
        id,
        time: item.op.return as number,
        position: 0,
        prev: null,
        next: null,
        match: null,
      };
      call.match = ret;
      events.push(ret);
    }
  });
  events.sort((a, b) => {
    if (a.time !== b.time) return a.time - b.time;
    if (a.isCall !== b.isCall) return a.isCall ? -1 : 1;
    return a.id - b.id;
  });
  const head: Entry = {
    isCall: false,
    id: -1,
    time: Number.NEGATIVE_INFINITY,
    position: -1,
    prev: null,
    next: null,
    match: null,
  };
  let last = head;
  events.forEach((entry, position) => {
    entry.position = position;
    entry.prev = last;
    last.next = entry;
    last = entry;
  });
  return { head, calls };
}

/** Unlink an operation's call event and its return event, if any. */
export function lift(call: Entry): void {
  call.prev!.next = call.next;
  if (call.next !== null) call.next.prev = call.prev;
  const ret = call.match;
  if (ret !== null) {
    ret.prev!.next = ret.next;
    if (ret.next !== null) ret.next.prev = ret.prev;
  }
}

/** Undo `lift` (in the reverse order of the lifts: their neighbours are as they left them). */
export function unlift(call: Entry): void {
  const ret = call.match;
  if (ret !== null) {
    ret.prev!.next = ret;
    if (ret.next !== null) ret.next.prev = ret;
  }
  call.prev!.next = call;
  if (call.next !== null) call.next.prev = call;
}
