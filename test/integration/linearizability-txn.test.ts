import { afterEach, describe, expect, it } from "vitest";
import { SeededRandom } from "../../raft/mod.js";
import {
  checkOperations,
  HistoryRecorder,
  type RevKvInput,
  type RevKvOutput,
  revKvModel,
} from "../../src/check/mod.js";
import type { StageraftClient } from "../../src/client/client.js";
import { sleep, TestCluster } from "./harness.js";

let cluster: TestCluster | null = null;

afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

const SEED = Number(process.env.LINEARIZABILITY_SEED ?? 20261207);

/** Run one operation of the txn model through the client library. */
async function run(client: StageraftClient, input: RevKvInput): Promise<RevKvOutput> {
  switch (input.op) {
    case "put":
      return { revision: (await client.put(input.key, input.value)).revision };
    case "delete":
      return { revision: (await client.delete(input.key)).index };
    case "get": {
      const result = await client.get(
        input.key,
        "revision" in input ? { revision: input.revision } : {},
      );
      return { value: result.value };
    }
    case "txn": {
      const result = await client.txn(input);
      const results = result.results.map((r) =>
        "found" in r ? { value: (r as { value: string | null }).value } : {},
      );
      return { revision: result.revision, succeeded: result.succeeded, results };
    }
  }
}

/**
 * Puts, gets, txns (compare a value or a version, write two keys) and reads at revisions seen
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
    const seen: number[] = [];
    let opsLeft = 160;
    const worker = async (clientId: number) => {
      const client = clients[clientId]!;
      let n = 0;
      while (opsLeft-- > 0) {
        const key = random.pick(["a", "b"]);
        const value = `c${clientId}-${n++}`;
        const roll = random.float();
        const input: RevKvInput =
          roll < 0.3
            ? { op: "put", key, value }
            : roll < 0.5
              ? { op: "get", key }
              : roll < 0.7 && seen.length > 0
                ? { op: "get", key, revision: random.pick(seen) }
                : {
                    op: "txn",
                    compare: [
                      random.chance(0.5)
                        ? { key, target: "version", op: "<", value: 3 }
                        : { key, target: "value", op: "!=", value: `c0-${random.int(n)}` },
                    ],
                    success: [
                      { op: "put", key: "a", value: `${value}-a` },
                      { op: "put", key: "b", value: `${value}-b` },
                    ],
                    failure: [
                      { op: "get", key: "a" },
                      { op: "delete", key: "b" },
                    ],
                  };
        const call = recorder.invoke(clientId, input);
        try {
          const output = await run(client, input);
          if (output.revision !== undefined) seen.push(output.revision);
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
  }, 120_000);
});
