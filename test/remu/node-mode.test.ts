import { describe, expect, it } from "vitest";
import { nodeFaultKinds, runNodeEmulation } from "../../src/remu/mod.js";

// remu's node mode: the production pipeline per node on the simulated clock, network and disk.

describe("remu node mode", () => {
  it("node mode - the same seed gives the same run (trace, digest, summary)", async () => {
    const options = { nodes: 3, seed: 11, durationMs: 1_200, faults: nodeFaultKinds };
    const first = await runNodeEmulation(options);
    const second = await runNodeEmulation(options);
    expect(first.ok, `SEED=11 ${first.failure}\n${first.trace.join("\n")}`).toBe(true);
    expect(second.summary).toEqual(first.summary);
    expect(second.trace).toEqual(first.trace);
    // The run did real work through the stages: writes committed and clients answered.
    expect(Number(first.summary.committed)).toBeGreaterThan(10);
    expect(Number(first.summary.ok)).toBeGreaterThan(10);
  }, 60_000);

  it("node mode - another seed gives another run", async () => {
    const base = { nodes: 3, durationMs: 600, faults: nodeFaultKinds };
    const a = await runNodeEmulation({ ...base, seed: 1 });
    const b = await runNodeEmulation({ ...base, seed: 2 });
    expect(a.summary.digest).not.toEqual(b.summary.digest);
  }, 60_000);
});
