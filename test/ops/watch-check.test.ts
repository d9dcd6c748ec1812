import { describe, expect, it } from "vitest";
import { check, Watcher } from "../../ops/bench/watch-fanout.js";

/** The bench's watch fan-out check (ops/bench/watch-fanout.ts): what makes its figure honest. */
function watcher(revisions: number[]): Watcher {
  const made = new Watcher(false);
  made.revisions.push(...revisions);
  return made;
}

describe("bench watch check", () => {
  const acked = [3, 5, 9];

  it("watch check - a watcher with every acknowledged put once, in order, is complete", () => {
    expect(check([watcher([3, 5, 9]), watcher([3, 5, 9])], acked)).toEqual({
      watchers: 2,
      complete: 2,
      missing: 0,
      doubled: 0,
      extra: 0,
    });
  });

  it("watch check - a missing, a doubled, a reordered and an unacknowledged event are each counted", () => {
    const result = check(
      [watcher([3, 9]), watcher([3, 5, 5, 9]), watcher([5, 3, 9]), watcher([3, 4, 5, 9])],
      acked,
    );
    // [5, 3, 9]: 3 arrives after 5 (counted doubled: out of order) and so is missing too.
    expect(result).toEqual({ watchers: 4, complete: 0, missing: 2, doubled: 2, extra: 1 });
  });
});
