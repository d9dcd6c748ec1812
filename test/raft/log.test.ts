import { describe, expect, test } from "vitest";
import { AssertionError } from "../../raft/assert.js";
import { chainChecksum } from "../../raft/checksum.js";
import { RaftLog } from "../../raft/log.js";
import { type Entry, EntryType } from "../../raft/types.js";
import { buildLog, bytes } from "./harness.js";

function logOf(terms: readonly number[]): RaftLog {
  const log = new RaftLog();
  log.restore(buildLog(terms));
  return log;
}

const termsIn = (log: RaftLog): number[] => {
  const out: number[] = [];
  for (let index = log.firstIndex; index <= log.lastIndex(); index++) out.push(log.term(index)!);
  return out;
};

describe("log", () => {
  test("log - an empty log starts at index 0, term 0, checksum 0", () => {
    const log = new RaftLog();
    expect(log.baseIndex).toBe(0);
    expect(log.firstIndex).toBe(1);
    expect(log.lastIndex()).toBe(0);
    expect(log.lastTerm()).toBe(0);
    expect(log.lastChk()).toBe(0);
    expect(log.term(0)).toBe(0);
    expect(log.term(1)).toBeUndefined();
    expect(log.entry(0)).toBeUndefined();
    expect(log.matchTerm(0, 0)).toBe(true);
  });

  test("log - appendNew assigns the next index and links the checksum chain", () => {
    const log = new RaftLog();
    const first = log.appendNew(1, EntryType.normal, bytes("a"));
    const second = log.appendNew(2, EntryType.config, bytes("b"));
    expect(first).toMatchObject({ index: 1, term: 1 });
    expect(second).toMatchObject({ index: 2, term: 2, type: EntryType.config });
    expect(first.chk).toBe(chainChecksum(0, 1, 1, EntryType.normal, bytes("a")));
    expect(second.chk).toBe(chainChecksum(first.chk, 2, 2, EntryType.config, bytes("b")));
    expect(log.lastChk()).toBe(second.chk);
    expect(() => log.appendNew(1, EntryType.normal, bytes("c"))).toThrow(AssertionError);
  });

  test("log - slice is inclusive, clamps to the last index, and honours maxBytes with at least one entry", () => {
    const log = new RaftLog();
    for (const size of [4, 4, 4, 10, 1])
      log.appendNew(1, EntryType.normal, bytes("x".repeat(size)));
    expect(log.slice(2, 4).map((e) => e.index)).toEqual([2, 3, 4]);
    expect(log.slice(4, 99).map((e) => e.index)).toEqual([4, 5]);
    expect(log.slice(6, 9)).toEqual([]);
    expect(log.slice(1, 5, 8).map((e) => e.index)).toEqual([1, 2]);
    expect(log.slice(1, 5, 7).map((e) => e.index)).toEqual([1]);
    expect(log.slice(4, 5, 3).map((e) => e.index)).toEqual([4]); // too big, but goes alone
    expect(log.slice(1, 5, 0).map((e) => e.index)).toEqual([1]);
    log.compactTo(2);
    expect(() => log.slice(2, 3)).toThrow(AssertionError);
    expect(log.entryBytes(1, 5)).toBe(4 + 10 + 1);
    expect(log.entryBytes(4, 4)).toBe(10);
  });

  test("log - §5.4.1 isUpToDate compares last terms, then lengths", () => {
    const log = logOf([1, 1, 2]);
    expect(log.isUpToDate(3, 2)).toBe(true);
    expect(log.isUpToDate(4, 2)).toBe(true);
    expect(log.isUpToDate(1, 3)).toBe(true);
    expect(log.isUpToDate(2, 2)).toBe(false);
    expect(log.isUpToDate(99, 1)).toBe(false);
    expect(new RaftLog().isUpToDate(0, 0)).toBe(true);
  });

  test("log - appendFromLeader skips what it holds, truncates at the first conflict, appends the rest", () => {
    const leader = buildLog([1, 1, 2, 3, 3]);
    // Already held: nothing written.
    const full = logOf([1, 1, 2, 3, 3]);
    expect(full.appendFromLeader(leader.slice(1, 4))).toBeUndefined();
    expect(full.lastIndex()).toBe(5);
    // A prefix: extended.
    const short = logOf([1, 1]);
    expect(short.appendFromLeader(leader.slice(1))).toBe(3);
    expect(termsIn(short)).toEqual([1, 1, 2, 3, 3]);
    // A conflict at 3: truncated from there, including its longer tail.
    const diverged = logOf([1, 1, 4, 4, 4, 4, 4]);
    expect(diverged.appendFromLeader(leader.slice(1))).toBe(3);
    expect(termsIn(diverged)).toEqual([1, 1, 2, 3, 3]);
    expect(diverged.lastChk()).toBe(leader.at(-1)!.chk);
    // A stale, shorter append never truncates a matching longer log.
    const longer = logOf([1, 1, 2, 3, 3]);
    expect(longer.appendFromLeader(leader.slice(0, 2))).toBeUndefined();
    expect(longer.lastIndex()).toBe(5);
  });

  test("log - appendFromLeader skips compacted entries and refuses a gap", () => {
    const leader = buildLog([1, 1, 2, 3, 3]);
    const log = logOf([1, 1, 2]);
    log.compactTo(2);
    expect(log.appendFromLeader(leader)).toBe(4);
    expect(log.lastIndex()).toBe(5);
    const gap = logOf([1]);
    expect(() => gap.appendFromLeader(leader.slice(3))).toThrow(/gap/);
  });

  test("log - appendFromLeader rejects an entry that breaks the checksum chain", () => {
    const leader = buildLog([1, 1, 2]);
    const forged: Entry = { ...leader[2]!, data: bytes("forged") };
    const log = logOf([1, 1]);
    expect(() => log.appendFromLeader([forged])).toThrow(/checksum chain broken at index 3/);
    // An entry we hold at the same term but with another checksum is a divergent history.
    const held = logOf([1, 1, 2]);
    const other: Entry = { ...leader[1]!, chk: leader[1]!.chk ^ 1 };
    expect(() => held.appendFromLeader([other])).toThrow(/checksum differs at index 2/);
  });

  test("log - restore takes contiguous entries after the base and refuses gaps", () => {
    const entries = buildLog([1, 1, 2, 2]);
    const log = new RaftLog(2, 1, entries[1]!.chk);
    log.restore(entries); // 1 and 2 are at or before the base: skipped
    expect(log.firstIndex).toBe(3);
    expect(log.lastIndex()).toBe(4);
    const gappy = new RaftLog();
    expect(() => gappy.restore([entries[0]!, entries[2]!])).toThrow(/gap/);
  });

  test("log - compactTo keeps the base's term and checksum; resetTo replaces the log", () => {
    const entries = buildLog([1, 2, 2, 3]);
    const log = logOf([1, 2, 2, 3]);
    log.compactTo(2);
    expect(log.baseIndex).toBe(2);
    expect(log.term(2)).toBe(2);
    expect(log.chk(2)).toBe(entries[1]!.chk);
    expect(log.term(1)).toBeUndefined();
    expect(log.entry(2)).toBeUndefined();
    expect(log.entry(3)).toEqual(entries[2]);
    log.compactTo(1); // older: no-op
    expect(log.baseIndex).toBe(2);
    expect(() => log.compactTo(9)).toThrow(AssertionError);
    log.compactTo(4);
    expect(log.lastIndex()).toBe(4);
    expect(log.lastTerm()).toBe(3);
    expect(log.lastChk()).toBe(entries[3]!.chk);
    log.resetTo(10, 5, 1234);
    expect([log.baseIndex, log.lastIndex(), log.lastTerm(), log.lastChk()]).toEqual([
      10, 10, 5, 1234,
    ]);
    expect(log.appendNew(5, EntryType.normal, bytes("z")).index).toBe(11);
  });

  test("log - findConflictByTerm: the last index at or below `index` with a term at or below `term`", () => {
    // Follower (f) of Figure 7.
    const log = logOf([1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3]);
    expect(log.findConflictByTerm(10, 6)).toEqual({ index: 10, term: 3 });
    expect(log.findConflictByTerm(11, 3)).toEqual({ index: 11, term: 3 });
    expect(log.findConflictByTerm(11, 2)).toEqual({ index: 6, term: 2 });
    expect(log.findConflictByTerm(5, 1)).toEqual({ index: 3, term: 1 });
    expect(log.findConflictByTerm(50, 9)).toEqual({ index: 11, term: 3 });
    expect(log.findConflictByTerm(11, 0)).toEqual({ index: 0, term: 0 });
  });

  test("log - findConflictByTerm never answers an index past the one asked about", () => {
    // The leader's log is compacted to 10; a follower's hint points below that (index 5).
    const log = new RaftLog(10, 2, 77);
    log.restore(buildLog([2, 3, 3], 11));
    expect(log.findConflictByTerm(12, 2)).toEqual({ index: 11, term: 2 });
    expect(log.findConflictByTerm(10, 2)).toEqual({ index: 10, term: 2 });
    // Below the base the terms are unknown; whatever it answers, it must be <= 5.
    const hint = log.findConflictByTerm(5, 1);
    expect(hint.index).toBeLessThanOrEqual(5);
  });
});
