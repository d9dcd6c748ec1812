import { describe, expect, it } from "vitest";
import { ElectionWatcher, highest } from "../../ops/bench/elections.js";
import { median } from "../../ops/bench/failover.js";
import { percentile } from "../../ops/bench/flood.js";
import { memoryOf, parseProcStatus } from "../../ops/bench/proc-stats.js";
import type { BenchCluster, NodeTerm } from "../../ops/bench/processes.js";

/** The bench's pure parts beside the windows: /proc parsing, term counting, medians. */
const status = `Name:\tnode
Umask:\t0022
State:\tS (sleeping)
VmPeak:\t 1234567 kB
VmSize:\t 1200000 kB
VmHWM:\t  310200 kB
VmRSS:\t  250104 kB
RssAnon:\t  200000 kB
Threads:\t11
`;

describe("bench /proc/<pid>/status", () => {
  it("proc status - VmRSS and VmHWM are read in KiB, not confused with RssAnon or VmPeak", () => {
    expect(parseProcStatus(status)).toEqual({ rssKiB: 250_104, hwmKiB: 310_200 });
  });

  it("proc status - a status without the memory lines (a kernel thread, a zombie) gives null", () => {
    expect(parseProcStatus("Name:\tkthreadd\nState:\tS (sleeping)\n")).toBeNull();
    expect(parseProcStatus(status.replace(/^VmHWM.*$/m, ""))).toBeNull();
  });

  it("proc status - this process's own memory is read where /proc exists, and a missing pid gives null", () => {
    const own = memoryOf(process.pid);
    if (process.platform === "linux") {
      expect(own).not.toBeNull();
      expect(own!.hwmKiB).toBeGreaterThanOrEqual(own!.rssKiB);
    }
    expect(memoryOf(undefined)).toBeNull();
  });
});

class FakeCluster {
  answer: (NodeTerm | null)[] = [];
  async terms(): Promise<(NodeTerm | null)[]> {
    return this.answer;
  }
}

describe("bench elections", () => {
  it("elections - the highest term wins; unreachable nodes are skipped", () => {
    expect(highest([null, { term: 3, leader: "n1" }, { term: 4, leader: null }])).toEqual({
      term: 4,
      leader: null,
    });
    expect(highest([null, null])).toBeNull();
  });

  it("elections - terms started and leader changes are counted from the polls; a term without a leader yet is not a change", async () => {
    const cluster = new FakeCluster();
    const agreed = (term: number, leader: string) => [0, 1, 2].map(() => ({ term, leader }));
    cluster.answer = agreed(2, "n1");
    const watcher = new ElectionWatcher(cluster as unknown as BenchCluster, 1_000_000);
    await watcher.poll();
    cluster.answer = [{ term: 3, leader: null }, null, { term: 2, leader: "n1" }];
    await watcher.poll();
    cluster.answer = agreed(4, "n2");
    await watcher.poll();
    cluster.answer = agreed(5, "n2");
    expect(await watcher.stop()).toEqual({
      termsStarted: 3,
      leaderChanges: 2,
      termStart: 2,
      termEnd: 5,
    });
  });
});

describe("bench medians and percentiles", () => {
  it("median - odd and even counts, unsorted input, none", () => {
    expect(median([900, 100, 300])).toBe(300);
    expect(median([400, 100, 300, 200])).toBe(250);
    expect(median([])).toBeNull();
  });

  it("percentile - nearest rank over sorted values", () => {
    const values = Array.from({ length: 100 }, (_, k) => k + 1);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 99)).toBeNull();
  });
});
