import { describe, expect, test } from "vitest";
import { DashboardHistory } from "../../src/dashboard/history.js";
import type { LocalSnapshot } from "../../src/dashboard/observer.js";

/** A LocalSnapshot with what the history reads; `samples` 0 is an idle percentile window. */
function snapshot(
  at: number,
  options: { samples?: number; snapshots?: number; term?: number; voters?: string[] } = {},
): LocalSnapshot {
  return {
    at,
    stages: [
      { name: "ingress", kind: "ingress", throughputPerSec: 5, percentileSamples: 0 },
      {
        name: "apply",
        kind: "queue",
        throughputPerSec: 7,
        percentileSamples: options.samples ?? 3,
        waitMsP99: 2,
        serviceMsP99: 4,
      },
    ],
    raft: {
      term: options.term ?? 1,
      leader: "n1",
      appliedIndex: 10,
      voters: options.voters ?? ["n1", "n2", "n3"],
      learners: [],
    },
    apply: { snapshots: options.snapshots ?? 0 },
  } as unknown as LocalSnapshot;
}

describe("dashboard history", () => {
  test("dashboard history - a bounded ring of points; idle percentiles are gaps, not zeros", () => {
    const history = new DashboardHistory({ points: 3 });
    for (let k = 0; k < 5; k++) history.record(snapshot(1_000 * k, { samples: k === 4 ? 0 : 3 }));
    const view = history.view();
    expect(view.stages).toEqual(["ingress", "apply"]);
    expect(view.points.map((p) => p.at)).toEqual([2_000, 3_000, 4_000]);
    expect(view.points[0]).toEqual({ at: 2_000, tp: [5, 7], wait: [null, 2], svc: [null, 4] });
    expect(view.points[2]!.wait).toEqual([null, null]);
  });

  test("dashboard history - snapshots, elections and membership changes are marked once", () => {
    const history = new DashboardHistory({ points: 4 });
    history.record(snapshot(0));
    history.record(snapshot(1_000, { snapshots: 1 }));
    history.record(snapshot(2_000, { snapshots: 1, term: 2 }));
    history.record(snapshot(3_000, { snapshots: 1, term: 2, voters: ["n1", "n2"] }));
    expect(history.view().markers).toEqual([
      { at: 1_000, kind: "snapshot", text: "snapshot at index 10" },
      { at: 2_000, kind: "election", text: "term 2: leader n1" },
      { at: 3_000, kind: "membership", text: "members: n1, n2" },
    ]);
    // Markers leave with the oldest point they belong to.
    for (let k = 4; k < 6; k++)
      history.record(snapshot(1_000 * k, { snapshots: 1, term: 2, voters: ["n1", "n2"] }));
    expect(history.view().markers.map((m) => m.kind)).toEqual(["election", "membership"]);
  });
});
