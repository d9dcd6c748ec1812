import { afterEach, describe, expect, it } from "vitest";
import { SeededRandom } from "../../raft/mod.js";
import {
  checkOperations,
  HistoryRecorder,
  type ReadOutput,
  type RevKvInput,
  type RevKvOutput,
  revKvModel,
  type TxnCompareInput,
} from "../../src/check/mod.js";
import type { StageraftClient } from "../../src/client/client.js";
import { sleep, TestCluster } from "./harness.js";

let cluster: TestCluster | null = null;

afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

const SEED = Number(process.env.LINEARIZABILITY_SEED ?? 20261207);

/** What a get answers of a key, as the model checks it. */
function readOf(r: Record<string, unknown>): ReadOutput {
  const { value, createRevision, modRevision, version, lease } =
    r as unknown as Required<ReadOutput>;
  return { value, createRevision, modRevision, version, lease };
}

/** Run one operation of the txn model through the client library. */
async function run(client: StageraftClient, input: RevKvInput): Promise<RevKvOutput> {
  switch (input.op) {
    case "put":
      return {
        revision: (
          await client.put(input.key, input.value, input.lease ? { lease: input.lease } : {})
        ).revision,
      };
    case "delete":
      return { revision: (await client.delete(input.key)).index };
    case "get": {
      const result = await client.get(
        input.key,
        "revision" in input ? { revision: input.revision } : {},
      );
      return readOf({ ...result });
    }
    case "txn": {
      const result = await client.txn(input);
      const results = result.results.map((r) => ("found" in r ? readOf(r) : {}));
      return { revision: result.revision, succeeded: result.succeeded, results };
    }
  }
}

/**
 * The next operation of a client: puts (some with the lease), deletes, gets, reads at a
 * revision seen earlier, and txns of the kinds users build on — a value or version compare,
 * "create if absent" (createRevision == 0), an optimistic update (modRevision == the one this
 * client last saw, sometimes < or >), a lease check — each writing one or two keys.
 */
function nextInput(
  random: SeededRandom,
  value: string,
  lease: string,
  seen: readonly number[],
  lastMod: ReadonlyMap<string, number>,
): RevKvInput {
  const key = random.pick(["a", "b"]);
  const other = key === "a" ? "b" : "a";
  const roll = random.float();
  if (roll < 0.18)
    return random.chance(0.3) ? { op: "put", key, value, lease } : { op: "put", key, value };
  if (roll < 0.28) return { op: "get", key };
  if (roll < 0.36 && seen.length > 0) return { op: "get", key, revision: random.pick(seen) };
  if (roll < 0.44) return { op: "delete", key };
  const kind = random.int(4);
  const compare: TxnCompareInput =
    kind === 0
      ? random.chance(0.5)
        ? { key, target: "version", op: "<", value: 3 }
        : { key, target: "value", op: "!=", value: `c0-${random.int(20)}` }
      : kind === 1
        ? { key, target: "createRevision", op: "==", value: 0 }
        : kind === 2
          ? {
              key,
              target: "modRevision",
              op: random.pick(["==", "==", "<", ">"] as const),
              value: lastMod.get(key) ?? (seen.length > 0 ? random.pick(seen) : 0),
            }
          : { key, target: "lease", op: "==", value: random.chance(0.5) ? lease : null };
  return {
    op: "txn",
    compare: [compare],
    success:
      kind === 3 && compare.value !== null
        ? [{ op: "delete", key }]
        : [
            { op: "put", key, value: `${value}-${key}`, ...(kind === 3 ? { lease } : {}) },
            { op: "put", key: other, value: `${value}-${other}` },
          ],
    failure: [
      { op: "get", key },
      { op: "delete", key: other },
    ],
  };
}

/** The modRevision a client learns of each key from its answers (for optimistic updates). */
function learn(lastMod: Map<string, number>, input: RevKvInput, output: RevKvOutput): void {
  if (input.op === "put" && output.revision !== undefined) lastMod.set(input.key, output.revision);
  if (input.op === "get" && !("revision" in input) && output.modRevision !== undefined)
    lastMod.set(input.key, output.modRevision);
  if (input.op === "txn")
    output.results?.forEach((r, k) => {
      const op = (output.succeeded ? input.success : input.failure)[k];
      if (op?.op === "get" && r.modRevision !== undefined) lastMod.set(op.key, r.modRevision);
    });
}

/**
 * Puts, gets, deletes, txns with compares on every target, and reads at revisions seen
 * earlier, from several clients against three real processes while the leader is killed -9:
 * the history must be linearizable under the model with txn and revisions (not partitioned:
 * a txn spans keys, so the run stays small).
 */
describe("linearizability - txn and reads at a revision", () => {
  it(`linearizability - txn, reads at a revision, a leader kill -9 [seed ${SEED}]`, async () => {
    cluster = await TestCluster.start(3);
    const random = new SeededRandom(SEED);
    const recorder = new HistoryRecorder<RevKvInput, RevKvOutput>();
    const endpoints = cluster.nodes.map((n) => n.name);
    const clients = Array.from({ length: 4 }, () =>
      cluster!.client(endpoints, { requestTimeoutMs: 2_000, maxAttempts: 3 }),
    );
    const { lease } = await clients[0]!.leases.grant(3_600);
    const seen: number[] = [];
    let opsLeft = 160;
    const worker = async (clientId: number) => {
      const client = clients[clientId]!;
      const lastMod = new Map<string, number>();
      let n = 0;
      while (opsLeft-- > 0) {
        const input = nextInput(random, `c${clientId}-${n++}`, lease, seen, lastMod);
        const call = recorder.invoke(clientId, input);
        try {
          const output = await run(client, input);
          if (output.revision !== undefined && input.op !== "get") seen.push(output.revision);
          learn(lastMod, input, output);
          call.ok(output);
        } catch (error) {
          call.error(error);
        }
      }
    };
    const workers = clients.map((_, k) => worker(k));
    await sleep(400);
    const leader = await cluster.waitForLeader();
    await cluster.kill(leader, "SIGKILL");
    await Promise.all(workers);

    const history = recorder.history();
    const completed = history.filter((op) => Number.isFinite(op.return ?? Infinity)).length;
    expect(completed, `SEED=${SEED}: completed operations`).toBeGreaterThan(80);
    expect(history.some((op) => op.input.op === "get" && "revision" in op.input)).toBe(true);
    const result = checkOperations(revKvModel, history, { timeBudgetMsPerKey: 30_000 });
    if (result.ok !== true)
      throw new Error(`SEED=${SEED}: ${JSON.stringify(result, null, 2).slice(0, 4_000)}`);
    // The compares users build locks and elections on were exercised, each both ways.
    for (const target of ["createRevision", "modRevision", "lease"]) {
      const outcomes = new Set(
        history
          .filter((op) => op.input.op === "txn" && op.input.compare[0]?.target === target)
          .map((op) => op.output?.succeeded),
      );
      expect([...outcomes].sort(), `SEED=${SEED}: ${target} compares`).toEqual(
        expect.arrayContaining([false, true]),
      );
    }
  }, 120_000);
});
