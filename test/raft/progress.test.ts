import { describe, expect, test } from "vitest";
import { AssertionError } from "../../raft/assert.js";
import { Inflights, Progress } from "../../raft/progress.js";
import type { SnapshotMeta } from "../../raft/types.js";

const meta = (index: number): SnapshotMeta => ({
  index,
  term: 1,
  chk: 0,
  config: { voters: ["a"], outgoing: [], learners: [] },
  size: 10,
});

describe("progress", () => {
  test("progress - Inflights fills to capacity and refuses more", () => {
    const inflights = new Inflights(3);
    expect(inflights.size).toBe(0);
    inflights.add(1);
    inflights.add(2);
    expect(inflights.full()).toBe(false);
    inflights.add(3);
    expect(inflights.full()).toBe(true);
    expect(() => inflights.add(4)).toThrow(AssertionError);
    expect(() => new Inflights(0)).toThrow(AssertionError);
  });

  test("progress - Inflights frees every message up to an acknowledged index, oldest first", () => {
    const inflights = new Inflights(4);
    for (const index of [3, 5, 8, 9]) inflights.add(index);
    inflights.freeLE(2);
    expect(inflights.size).toBe(4);
    inflights.freeLE(6);
    expect(inflights.size).toBe(2);
    inflights.freeLE(6); // idempotent
    expect(inflights.size).toBe(2);
    inflights.freeLE(100);
    expect(inflights.size).toBe(0);
    inflights.add(10);
    inflights.reset();
    expect(inflights.size).toBe(0);
  });

  test("progress - Inflights wraps around its ring", () => {
    const inflights = new Inflights(3);
    let next = 1;
    let freed = 0;
    // Many rounds of add/free keep the ring consistent across wrap-around.
    for (let round = 0; round < 20; round++) {
      while (!inflights.full()) inflights.add(next++);
      expect(inflights.size).toBe(3);
      freed += 2;
      inflights.freeLE(freed);
      expect(inflights.size, `round ${round}`).toBe(next - 1 - freed);
    }
  });

  test("progress - a new Progress probes from the given nextIndex", () => {
    const progress = new Progress(7, 4);
    expect(progress.state).toBe("probe");
    expect(progress.matchIndex).toBe(0);
    expect(progress.nextIndex).toBe(7);
    expect(progress.isPaused()).toBe(false);
  });

  test("progress - maybeUpdate moves matchIndex forward only and keeps nextIndex beyond it", () => {
    const progress = new Progress(5, 4);
    progress.probeSent = true;
    expect(progress.maybeUpdate(6)).toBe(true);
    expect(progress.matchIndex).toBe(6);
    expect(progress.nextIndex).toBe(7);
    expect(progress.probeSent).toBe(false);
    expect(progress.maybeUpdate(4)).toBe(false); // stale ack
    expect(progress.matchIndex).toBe(6);
    expect(progress.nextIndex).toBe(7);
    progress.nextIndex = 20; // optimistic (replicate)
    expect(progress.maybeUpdate(8)).toBe(true);
    expect(progress.nextIndex).toBe(20);
  });

  test("progress - maybeDecrTo in replicate: stale rejections ignored, else back to matchIndex + 1", () => {
    const progress = new Progress(1, 4);
    progress.maybeUpdate(5);
    progress.becomeReplicate();
    progress.sentEntries(9);
    expect(progress.nextIndex).toBe(10);
    expect(progress.maybeDecrTo(5, 0)).toBe(false); // at or below matchIndex: stale
    expect(progress.maybeDecrTo(4, 0)).toBe(false);
    expect(progress.nextIndex).toBe(10);
    expect(progress.maybeDecrTo(7, 2)).toBe(true);
    expect(progress.nextIndex).toBe(6);
  });

  test("progress - maybeDecrTo in probe: only the probe in flight counts, and the hint is used", () => {
    const progress = new Progress(11, 4);
    progress.sentEntries(undefined);
    expect(progress.probeSent).toBe(true);
    expect(progress.maybeDecrTo(8, 3)).toBe(false); // not the probe we sent (prev 10)
    expect(progress.nextIndex).toBe(11);
    expect(progress.maybeDecrTo(10, 3)).toBe(true);
    expect(progress.nextIndex).toBe(4); // hint + 1
    expect(progress.probeSent).toBe(false);
    // A hint beyond the rejected index only steps back by one.
    progress.sentEntries(undefined);
    expect(progress.maybeDecrTo(3, 50)).toBe(true);
    expect(progress.nextIndex).toBe(3);
    // Never below matchIndex + 1.
    const matched = new Progress(10, 4);
    matched.matchIndex = 6;
    expect(matched.maybeDecrTo(9, 0)).toBe(true);
    expect(matched.nextIndex).toBe(7);
  });

  test("progress - isPaused: probe after one send, replicate when the window is full, snapshot always", () => {
    const progress = new Progress(1, 2);
    progress.sentEntries(3);
    expect(progress.isPaused()).toBe(true);
    progress.maybeUpdate(3);
    expect(progress.isPaused()).toBe(false);
    progress.becomeReplicate();
    expect(progress.nextIndex).toBe(4);
    progress.sentEntries(5);
    expect(progress.isPaused()).toBe(false);
    progress.sentEntries(undefined); // an empty append takes no slot
    expect(progress.isPaused()).toBe(false);
    progress.sentEntries(7);
    expect(progress.nextIndex).toBe(8);
    expect(progress.isPaused()).toBe(true);
    progress.inflights.freeLE(5);
    expect(progress.isPaused()).toBe(false);
    progress.becomeSnapshot(meta(20));
    expect(progress.isPaused()).toBe(true);
    expect(progress.snapshot).toEqual({ meta: meta(20), ackedOffset: 0, sentTick: null });
  });

  test("progress - leaving the snapshot state probes from after the snapshot", () => {
    const progress = new Progress(1, 4);
    progress.maybeUpdate(3);
    progress.becomeSnapshot(meta(20));
    progress.becomeProbe();
    expect(progress.state).toBe("probe");
    expect(progress.nextIndex).toBe(21);
    expect(progress.snapshot).toBeNull();
    // From replicate, a probe restarts right after the match.
    const other = new Progress(1, 4);
    other.maybeUpdate(3);
    other.becomeReplicate();
    other.sentEntries(9);
    other.becomeProbe();
    expect(other.nextIndex).toBe(4);
    expect(other.inflights.size).toBe(0);
  });
});
