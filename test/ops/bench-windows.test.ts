import { describe, expect, it } from "vitest";
import { countIn, emptyWindows, mergeWindows, windowStats } from "../../ops/bench/windows.js";

/** The bench's 1-second windows (ops/bench/windows.ts): the figure behind the snapshot-dip goal. */
describe("bench 1-second windows", () => {
  it("windows - a measured window has one counter per whole second; a partial last second is not counted", () => {
    expect(emptyWindows(3_000)).toEqual([0, 0, 0]);
    expect(emptyWindows(3_999)).toEqual([0, 0, 0]);
    expect(emptyWindows(999)).toEqual([]);
  });

  it("windows - a completion is counted in its second; before the start or past the last whole second it is not", () => {
    const windows = emptyWindows(3_000);
    for (const at of [0, 999.9, 1_000, 2_500, 2_999, -1, 3_000, 3_500]) countIn(windows, at);
    expect(windows).toEqual([2, 1, 2]);
  });

  it("windows - several load generators' windows add second by second, the shorter ones as zeros", () => {
    expect(mergeWindows([[1, 2, 3], [10, 20], []])).toEqual([11, 22, 3]);
    expect(mergeWindows([])).toEqual([]);
  });

  it("windows - the worst second as a fraction of the mean, and the seconds below 80% of it", () => {
    // mean 100: 10 is 0.1 of it; 79 is below 80; 80 is not.
    const stats = windowStats([130, 10, 79, 80, 201]);
    expect(stats).toEqual({
      counts: [130, 10, 79, 80, 201],
      meanPerSecond: 100,
      minFraction: 0.1,
      minIndex: 1,
      below80Percent: 2,
    });
  });

  it("windows - an even phase has no dip", () => {
    expect(windowStats([50, 50, 50])).toMatchObject({ minFraction: 1, below80Percent: 0 });
  });

  it("windows - no whole second, or nothing completed, gives no figure rather than a division by zero", () => {
    expect(windowStats([])).toBeNull();
    expect(windowStats([0, 0])).toBeNull();
  });
});
