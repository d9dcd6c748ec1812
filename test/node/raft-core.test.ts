import { existsSync } from "node:fs";
import { afterEach, beforeAll, describe, expect, test } from "vitest";
import { raftConfig } from "../../raft/config.js";
import { RaftNode } from "../../raft/node.js";
import { SeededRandom } from "../../raft/rand.js";
import type { RestoredState } from "../../raft/types.js";
import {
  InlineRaftCore,
  type RaftCore,
  type RoundInput,
  type RoundOutput,
} from "../../stages/raft-step/raft-core.js";
import type { GroupSpec } from "../../stages/raft-step/raft-core-host.js";
import { packProposals, RaftCorePool } from "../../stages/raft-step/remote-raft-core.js";

// The worker runs the compiled host; CI builds it in `npm ci` (prepare).
const compiledHost = new URL("../../dist/stages/raft-step/raft-core-host.js", import.meta.url);

const empty: RestoredState = {
  hardState: { term: 0, vote: null, commit: 0 },
  snapshot: null,
  entries: [],
  applied: 0,
};

function spec(group: number, seed = 7): GroupSpec {
  return {
    config: raftConfig(
      { id: "n1", group, initialConfig: { voters: ["n1"], outgoing: [], learners: [] } },
      { electionTicks: 10, heartbeatTicks: 1 },
    ),
    seed,
    restored: empty,
    retainEntries: 0,
  };
}

function input(group: number, fields: Partial<RoundInput>): RoundInput {
  return {
    group,
    persisted: 0,
    appliedTo: 0,
    compact: null,
    ticks: 0,
    messages: [],
    unreachable: [],
    proposals: [],
    configChanges: [],
    transfers: [],
    reads: [],
    conditions: [],
    readyBudget: 8,
    ...fields,
  };
}

/**
 * Drive one single-voter group as raft-step does: tick until it leads, propose, then report
 * every Ready durable and every committed entry applied in the next round. Returns every
 * round's output without the view (inline leaves it null; the worker always sends it).
 */
async function script(core: RaftCore): Promise<Omit<RoundOutput, "view">[]> {
  const outputs: Omit<RoundOutput, "view">[] = [];
  let persisted = 0;
  let appliedTo = 0;
  const step = async (fields: Partial<RoundInput>) => {
    const { view: _view, ...output } = await core.round(
      input(core.group, { persisted, appliedTo, ...fields }),
    );
    outputs.push(output);
    persisted = output.readies.length;
    appliedTo = Math.max(0, ...output.readies.flatMap((r) => r.committed.map((e) => e.index)));
    return output;
  };
  for (let tick = 0; tick < 40 && core.status().role !== "leader"; tick++) await step({ ticks: 1 });
  expect(core.status().role).toBe("leader");
  const proposed = await step({
    proposals: [1, 2, 3].map((k) => new Uint8Array([k, k, k])),
    conditions: [{ kind: "transferred", to: "n2" }],
  });
  expect(proposed.proposals.every((p) => p.ok)).toBe(true);
  // A leader with no transfer under way has "given up" any transfer: the condition holds.
  expect(proposed.conditions).toEqual([true]);
  for (let k = 0; k < 5; k++) await step({});
  const last = proposed.proposals.at(-1)!;
  expect(last.ok && core.status().commitIndex >= last.index).toBe(true);
  expect(core.status().appliedIndex).toBe(core.status().commitIndex);
  return outputs;
}

const pools: RaftCorePool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.close()));
});

describe("raft core - rounds inline and in worker threads", () => {
  beforeAll(() => {
    if (!existsSync(compiledHost)) throw new Error("run `npx tsc -p tsconfig.json` first");
  });

  test("raft core - a group in a worker answers every round exactly as the same group inline", async () => {
    const inline = new InlineRaftCore(
      new RaftNode(spec(1).config, new SeededRandom(spec(1).seed), empty),
      0,
    );
    const pool = new RaftCorePool(1, compiledHost);
    pools.push(pool);
    const remote = await pool.open(spec(1));
    const expected = await script(inline);
    const actual = await script(remote);
    expect(actual.length).toBe(expected.length);
    // Same seed, same inputs: the same elections, entries, checksums and committed batches.
    expect(JSON.stringify(actual)).toBe(JSON.stringify(expected));
    expect(remote.view().status).toEqual(inline.view().status);
    expect(remote.view().checksumApplied).toBe(inline.view().checksumApplied);
    expect(remote.view().checksumApplied).not.toBeNull();
  });

  test("raft core - groups are pinned to workers by id and run independently", async () => {
    const pool = new RaftCorePool(2, compiledHost);
    pools.push(pool);
    expect([1, 2, 3, 4].map((group) => pool.workerFor(group))).toEqual([1, 0, 1, 0]);
    const one = await pool.open(spec(1, 11));
    const two = await pool.open(spec(2, 12));
    await Promise.all([script(one), script(two)]);
    expect(one.status().group).toBe(1);
    expect(two.status().group).toBe(2);
    // A message addressed to another group is not stepped by this one.
    const before = one.status().term;
    await one.round(
      input(1, {
        messages: [
          {
            type: "heartbeat",
            group: 2,
            from: "n9",
            to: "n1",
            term: before + 5,
            leaderCommit: 0,
            readSeq: 0,
            sentTick: 0,
          },
        ],
      }),
    );
    expect(one.status().term).toBe(before);
  });

  test("raft core - proposals cross to the worker in one buffer of their own, the encoder's untouched", () => {
    const slab = new Uint8Array(8192).map((_, k) => k % 251);
    const proposals = [slab.subarray(0, 3), slab.subarray(100, 110), slab.subarray(4000, 4001)];
    const packed = packProposals(proposals);
    expect(packed.buffer!.byteLength).toBe(14);
    expect(packed.proposals.map((p) => [...p])).toEqual(proposals.map((p) => [...p]));
    for (const view of packed.proposals) expect(view.buffer).toBe(packed.buffer);
    structuredClone(packed.proposals, { transfer: [packed.buffer!] });
    // The transferred buffer is gone from this thread; the encoder's slab is intact.
    expect(packed.buffer!.byteLength).toBe(0);
    expect(slab.byteLength).toBe(8192);
    expect(packProposals([])).toEqual({ proposals: [], buffer: null });
  });

  test("raft core - misuse is refused with a clear error, and the worker lives on", async () => {
    const pool = new RaftCorePool(1, compiledHost);
    pools.push(pool);
    const core = await pool.open(spec(1));
    await expect(pool.open(spec(1))).rejects.toThrow(/group 1 is already open/);
    await expect(core.round(input(1, { persisted: 3 }))).rejects.toThrow(
      /reported durable was never handed out/,
    );
    const other = await pool.open(spec(2));
    await expect(other.round(input(2, { ticks: 1 }))).resolves.toBeDefined();
  });
});
