import { describe, expect, it } from "vitest";
import { faultKinds, type RunResult, runEmulation } from "../../src/remu/mod.js";

// The randomised sweep: every fault on, a safety phase of STEPS events and a liveness phase,
// for SEEDS seeds on 3 and on 5 nodes. A failure names its seed and shows the trace; replay it
// with `npx stageraft remu --nodes N --seed S --steps STEPS`. `npm run fuzz` runs more.
// REMU_SWEEP_SEEDS sets the seed count (`npm run test:fast` runs a short sweep).
const SEEDS = Number(process.env.REMU_SWEEP_SEEDS ?? 300);
const STEPS = 20_000;
const FIRST_SEED = Number(process.env.REMU_FIRST_SEED ?? 1);

function describeFailure(result: RunResult): string {
  const p = result.parameters;
  return [
    `SEED=${p.seed} nodes=${p.nodes}: ${result.failure}`,
    `replay: npx stageraft remu --nodes ${p.nodes} --seed ${p.seed} --steps ${p.steps}`,
    ...result.trace.slice(-60),
  ].join("\n");
}

describe("remu - randomised sweep", () => {
  for (const nodes of [3, 5]) {
    it(`sweep - ${SEEDS} seeds on ${nodes} nodes, ${STEPS} events each, all faults`, () => {
      const failures: string[] = [];
      let committed = 0;
      for (let seed = FIRST_SEED; seed < FIRST_SEED + SEEDS; seed++) {
        const result = runEmulation({ nodes, seed, steps: STEPS, faults: faultKinds });
        if (!result.ok) failures.push(describeFailure(result));
        committed += Number(result.summary.committed);
      }
      expect(failures, failures.join("\n\n")).toEqual([]);
      // The load really ran: on average each seed committed a good number of entries.
      expect(committed / SEEDS).toBeGreaterThan(100);
    }, 300_000);
  }
});
