import { describe, expect, it } from "vitest";
import {
  faultKinds,
  nodeFaultKinds,
  type RunResult,
  runEmulation,
  runNodeEmulation,
} from "../../src/remu/mod.js";

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
    it(`sweep - ${SEEDS} seeds on ${nodes} nodes, ${STEPS} events each, all faults`, async () => {
      const failures: string[] = [];
      let committed = 0;
      for (let seed = FIRST_SEED; seed < FIRST_SEED + SEEDS; seed++) {
        const result = runEmulation({ nodes, seed, steps: STEPS, faults: faultKinds });
        if (!result.ok) failures.push(describeFailure(result));
        committed += Number(result.summary.committed);
        // Let the worker's event loop run between seeds: vitest's calls to the main process
        // time out after 60 s, and on a slow machine the whole sweep can take longer.
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(failures, failures.join("\n\n")).toEqual([]);
      // The load really ran: on average each seed committed a good number of entries.
      expect(committed / SEEDS).toBeGreaterThan(100);
    }, 300_000);
  }
});

// Node mode: the production stages per node (src/remu/node), briefly: 12 seeds of 1.5 virtual
// s on 3 nodes with every node-mode fault but membership changes, then 4 seeds with them too.
// REMU_NODE_SEEDS sets the first count; `npm run fuzz -- --mode node` runs more. Replay:
// `npm run fuzz -- --mode node --faults <the run's faults> --start S --seeds 1 --ms 1500`.
const NODE_SEEDS = Number(process.env.REMU_NODE_SEEDS ?? 12);
const NODE_MS = 1_500;
const withoutMembership = nodeFaultKinds.filter((kind) => kind !== "membership");

describe("remu - node-mode sweep", () => {
  const runs = [
    { first: FIRST_SEED, count: NODE_SEEDS, faults: withoutMembership },
    { first: FIRST_SEED + NODE_SEEDS, count: 4, faults: [...nodeFaultKinds] },
  ];
  for (const { first, count, faults } of runs) {
    it(`sweep - ${count} seeds of the production pipeline on 3 nodes: ${faults.join(",")}`, async () => {
      const failures: string[] = [];
      for (let seed = first; seed < first + count; seed++) {
        const result = await runNodeEmulation({ nodes: 3, seed, durationMs: NODE_MS, faults });
        if (!result.ok)
          failures.push(
            [
              `SEED=${seed} node mode: ${result.failure}`,
              `replay: npm run fuzz -- --mode node --faults ${faults.join(",")} --nodes 3 --start ${seed} --seeds 1 --ms ${NODE_MS}`,
              ...result.trace.slice(-60),
            ].join("\n"),
          );
      }
      expect(failures, failures.join("\n\n")).toEqual([]);
    }, 300_000);
  }
});
