import fc from "fast-check";
import { describe, expect, test } from "vitest";
import {
  allMembers,
  committedIndex,
  isJoint,
  isVoter,
  jointMajority,
  majorityIndex,
  voteResult,
} from "../../raft/quorum.js";
import { config } from "./harness.js";

const acks =
  (table: Record<string, number>) =>
  (id: string): number =>
    table[id] ?? 0;

const votes = (table: Record<string, boolean>) => new Map(Object.entries(table));

describe("quorum", () => {
  test("quorum - majorityIndex is the highest index held by a majority", () => {
    expect(majorityIndex([], acks({}))).toBe(Number.POSITIVE_INFINITY);
    expect(majorityIndex(["a"], acks({ a: 7 }))).toBe(7);
    expect(majorityIndex(["a", "b", "c"], acks({ a: 5, b: 3, c: 9 }))).toBe(5);
    expect(majorityIndex(["a", "b", "c"], acks({ a: 5 }))).toBe(0);
    // Four voters need three.
    expect(majorityIndex(["a", "b", "c", "d"], acks({ a: 9, b: 8, c: 2, d: 1 }))).toBe(2);
    expect(majorityIndex(["a", "b", "c", "d", "e"], acks({ a: 9, b: 8, c: 7, d: 1 }))).toBe(7);
  });

  test("quorum - a joint decision needs both majorities; an empty half does not constrain", () => {
    const joint = config(["a", "b", "c"], [], ["c", "d", "e"]);
    const acked = acks({ a: 10, b: 10, c: 4, d: 2, e: 1 });
    expect(jointMajority(joint, acked)).toBe(2);
    expect(committedIndex(joint, acked)).toBe(2);
    expect(committedIndex(config(["a", "b", "c"]), acked)).toBe(10);
    expect(committedIndex(config([]), acked)).toBe(0);
    expect(jointMajority(config([], [], ["a"]), acked)).toBe(10);
  });

  test("quorum - voteResult: won with a majority, lost when a majority refused, else pending", () => {
    const three = config(["a", "b", "c"]);
    expect(voteResult(three, votes({ a: true }))).toBe("pending");
    expect(voteResult(three, votes({ a: true, b: true }))).toBe("won");
    expect(voteResult(three, votes({ a: true, b: false }))).toBe("pending");
    expect(voteResult(three, votes({ a: true, b: false, c: false }))).toBe("lost");
    const four = config(["a", "b", "c", "d"]);
    expect(voteResult(four, votes({ a: true, b: true }))).toBe("pending");
    expect(voteResult(four, votes({ a: true, b: true, c: false, d: false }))).toBe("lost");
    expect(voteResult(four, votes({ a: true, b: true, c: true }))).toBe("won");
    // Votes from non-voters do not count.
    expect(voteResult(three, votes({ a: true, x: true, y: true }))).toBe("pending");
  });

  test("quorum - a joint vote is won only when both halves are won, lost when either is lost", () => {
    const joint = config(["a", "b", "c"], [], ["c", "d", "e"]);
    expect(voteResult(joint, votes({ a: true, b: true }))).toBe("pending");
    expect(voteResult(joint, votes({ a: true, b: true, c: true }))).toBe("pending");
    expect(voteResult(joint, votes({ a: true, b: true, d: true, e: true }))).toBe("won");
    expect(voteResult(joint, votes({ c: true, d: false, e: false }))).toBe("lost");
    expect(voteResult(joint, votes({ a: false, b: false, d: true, e: true }))).toBe("lost");
  });

  test("quorum - membership helpers", () => {
    const joint = config(["a", "b"], ["x"], ["b", "c"]);
    expect(isVoter(joint, "a")).toBe(true);
    expect(isVoter(joint, "c")).toBe(true);
    expect(isVoter(joint, "x")).toBe(false);
    expect(isJoint(joint)).toBe(true);
    expect(isJoint(config(["a"]))).toBe(false);
    expect(allMembers(joint).sort()).toEqual(["a", "b", "c", "x"]);
  });

  test("quorum - committedIndex is held by a majority of each half and by no larger index", () => {
    const ids = ["a", "b", "c", "d", "e", "f", "g"];
    const arbitrary = fc.record({
      voters: fc.subarray(ids, { minLength: 1 }),
      outgoing: fc.subarray(ids),
      acked: fc.array(fc.nat(20), { minLength: ids.length, maxLength: ids.length }),
    });
    fc.assert(
      fc.property(arbitrary, ({ voters, outgoing, acked }) => {
        const ack = (id: string) => acked[ids.indexOf(id)]!;
        const index = committedIndex(config(voters, [], outgoing), ack);
        const holds = (half: string[], at: number) =>
          half.length === 0 || half.filter((id) => ack(id) >= at).length * 2 > half.length;
        expect(holds(voters, index) && holds(outgoing, index)).toBe(true);
        expect(holds(voters, index + 1) && holds(outgoing, index + 1)).toBe(false);
      }),
      { seed: 20240601, numRuns: 500 },
    );
  });
});
