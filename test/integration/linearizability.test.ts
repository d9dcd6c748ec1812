import { afterEach, describe, expect, it } from "vitest";
import { SeededRandom } from "../../raft/mod.js";
import {
  checkKvHistory,
  HistoryRecorder,
  type KvInput,
  type KvOutput,
  recordKv,
} from "../../src/check/mod.js";
import { sleep, TestCluster } from "./harness.js";

let cluster: TestCluster | null = null;

afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

const SEED = Number(process.env.LINEARIZABILITY_SEED ?? 20261122);

/**
 * Concurrent cas/put/get/incr from several clients through the client library against three
 * real processes, while the leader is killed -9 and restarted and a follower is paused with
 * SIGSTOP/SIGCONT; the recorded history must be linearizable (checked per key, Wing–Gong with
 * Lowe's cache). Writes are not session-tagged: a lost answer stays "unknown" in the history.
 */
const pools = [
  { pools: "inline pools", config: {}, snapshots: false },
  {
    pools: "the Raft core and the state machine in worker threads",
    config: { stages: { raftStep: { pool: "workers" }, apply: { pool: "workers" } } },
    snapshots: false,
  },
  {
    // Snapshots written in the background while faults hit, and InstallSnapshot on restart.
    pools: "a snapshot every 40 entries",
    config: { raft: { snapshotEvery: 40, snapshotRetainEntries: 5 } },
    snapshots: true,
  },
];

describe.each(pools)(
  "linearizability - a recorded history under faults, $pools",
  ({ config, snapshots }) => {
    it(`linearizability - cas/put/get/incr with a leader kill -9 and a paused follower [seed ${SEED}]`, async () => {
      cluster = await TestCluster.start(3, config);
      const random = new SeededRandom(SEED);
      const recorder = new HistoryRecorder<KvInput, KvOutput>();
      const keys = ["a", "b", "c", "d"];
      const endpoints = cluster.nodes.map((n) => n.name);
      const clients = Array.from({ length: 5 }, () =>
        cluster!.client(endpoints, { requestTimeoutMs: 2_000, maxAttempts: 3 }),
      );
      let running = true;
      let opsDone = 0;
      const worker = async (clientId: number) => {
        const client = clients[clientId]!;
        let n = 0;
        while (running) {
          const key = random.pick(keys);
          const roll = random.float();
          const value = `c${clientId}-${n++}`;
          const input: KvInput =
            roll < 0.3
              ? { op: "get", key }
              : roll < 0.55
                ? { op: "put", key, value }
                : roll < 0.8
                  ? {
                      op: "cas",
                      key,
                      expect: random.chance(0.5) ? null : `c${random.int(5)}-${random.int(n + 1)}`,
                      value,
                    }
                  : { op: "incr", key: `n-${key}`, delta: 1 };
          await recordKv(recorder, client, clientId, input);
          opsDone++;
        }
      };
      const workers = clients.map((_, k) => worker(k));

      await sleep(700);
      const leader = await cluster.waitForLeader();
      await cluster.kill(leader, "SIGKILL");
      await sleep(800);
      const follower = cluster.nodes.find((n) => n.name !== leader && n.process !== null)!.name;
      await cluster.kill(follower, "SIGSTOP");
      await sleep(500);
      await cluster.kill(follower, "SIGCONT");
      cluster.restart(leader);
      await sleep(1_200);
      // Enough operations after the faults, however slow the machine (not a fixed time).
      const after = opsDone;
      for (let k = 0; k < 600 && opsDone < Math.max(after + 50, 150); k++) await sleep(100);
      running = false;
      await Promise.all(workers);

      const history = recorder.history();
      const completed = history.filter(
        (op) => op.return !== null && Number.isFinite(op.return),
      ).length;
      expect(opsDone, `SEED=${SEED}: the clients must have made progress`).toBeGreaterThan(100);
      expect(completed, `SEED=${SEED}: completed operations`).toBeGreaterThan(100);
      const result = checkKvHistory(history, { timeBudgetMsPerKey: 20_000 });
      if (result.ok !== true) {
        throw new Error(`SEED=${SEED}: ${JSON.stringify(result, null, 2).slice(0, 4_000)}`);
      }
      expect(result.ok).toBe(true);
      if (snapshots) {
        const compacted = cluster.nodes.filter((n) => n.output.includes("log compacted"));
        expect(compacted.length, "snapshots were taken during the run").toBeGreaterThan(0);
      }
    }, 120_000);
  },
);
