import { existsSync } from "node:fs";
import pino from "pino";
import { afterEach, beforeAll, describe, expect, test } from "vitest";
import { raftConfig } from "../../raft/config.js";
import { RaftNode } from "../../raft/node.js";
import { SeededRandom } from "../../raft/rand.js";
import type { Ready } from "../../raft/types.js";
import type { ApplyItem, ClientItem, Reply, WalItem } from "../../stages/items.js";
import { MemberDirectory } from "../../stages/raft-step/members.js";
import { InlineRaftCore, type RaftCore } from "../../stages/raft-step/raft-core.js";
import { RaftStepStage } from "../../stages/raft-step/raft-step.js";
import { RaftCorePool } from "../../stages/raft-step/remote-raft-core.js";

const compiledHost = new URL("../../dist/stages/raft-step/raft-core-host.js", import.meta.url);
const silent = pino({ level: "silent" });

const groupConfig = raftConfig(
  { id: "n1", group: 1, initialConfig: { voters: ["n1"], outgoing: [], learners: [] } },
  { electionTicks: 4, heartbeatTicks: 1 },
);
const restored = {
  hardState: { term: 0, vote: null, commit: 0 },
  snapshot: null,
  entries: [],
  applied: 0,
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * raft-step between fake neighbours: a small apply queue drained only when the test says, and
 * a WAL that makes each Ready durable a moment later, as wal-append does.
 */
class Harness {
  readonly applyQueue: ApplyItem[] = [];
  readonly applied: ApplyItem[] = [];
  readonly replies: Reply[] = [];
  readonly walSeen: Ready[] = [];
  readonly stage: RaftStepStage;
  private appliedIndex = 0;

  constructor(
    core: RaftCore,
    private readonly applyCapacity: number,
  ) {
    this.stage = new RaftStepStage(
      core,
      {
        wal: {
          offer: (item: WalItem) => {
            if (item.kind !== "ready") return true;
            this.walSeen.push(item.ready);
            setTimeout(() => this.stage.onPersisted(item.ready), 1);
            return true;
          },
          hasRoom: () => true,
        },
        apply: {
          offer: (item) => {
            if (this.applyQueue.length >= this.applyCapacity) return false;
            this.applyQueue.push(item);
            return true;
          },
          hasRoom: (items) => this.applyQueue.length + items <= this.applyCapacity,
        },
        replicate: {
          send: () => {},
          forward: () => false,
          addPeer: () => {},
          peerNames: () => [],
          removePeer: () => {},
          notifyRemoved: () => {},
          forwardReply: () => {},
        },
        respond: { reply: (reply) => this.replies.push(reply) },
        fatal: (error) => {
          throw error;
        },
      },
      new MemberDirectory(new Map([["n1", "127.0.0.1:1"]])),
      {
        capacityItems: 10_000,
        batchItems: 64,
        tickMs: 2,
        forwarding: false,
        adminTimeoutMs: 1_000,
        vectorDefaults: {
          engine: "flat",
          hnsw: { m: 16, efConstruction: 200, efSearch: 50 },
          collections: {},
        },
      },
      silent,
    );
  }

  /** The apply stage takes everything queued, in order, and reports what it applied. */
  drainApply(): void {
    for (const item of this.applyQueue.splice(0)) {
      this.applied.push(item);
      if (item.kind === "committed") {
        this.appliedIndex = item.entries.at(-1)!.index;
        this.stage.onApplied(this.appliedIndex);
      }
    }
    this.stage.kick();
  }

  put(k: number): ClientItem {
    return {
      kind: "client",
      target: { kind: "local", connId: 1, id: k },
      request: { op: "put", key: `k${k}`, value: `${k}` },
      admin: false,
      deadline: Date.now() + 60_000,
    };
  }
}

const pools: RaftCorePool[] = [];
const stages: RaftStepStage[] = [];
afterEach(async () => {
  for (const stage of stages.splice(0)) await stage.close();
  await Promise.all(pools.splice(0).map((pool) => pool.close()));
});

async function coreFor(pool: "inline" | "workers"): Promise<RaftCore> {
  if (pool === "inline")
    return new InlineRaftCore(new RaftNode(groupConfig, new SeededRandom(3), restored), 0);
  const workers = new RaftCorePool(1, compiledHost);
  pools.push(workers);
  return workers.open({ config: groupConfig, seed: 3, restored, retainEntries: 0 });
}

describe.each(["inline", "workers"] as const)("raft-step with the %s pool", (pool) => {
  beforeAll(() => {
    if (!existsSync(compiledHost)) throw new Error("run `npx tsc -p tsconfig.json` first");
  });

  test(`raft-step (${pool}) - a flood against a small apply queue: refused or committed, in order, none lost`, async () => {
    const harness = new Harness(await coreFor(pool), 16);
    stages.push(harness.stage);
    harness.stage.start();
    // Bounded by a generous deadline, not a count of sleeps: a loaded CI machine is slow.
    const electedBy = Date.now() + 20_000;
    while (harness.stage.status().role !== "leader" && Date.now() < electedBy) {
      harness.drainApply();
      await sleep(5);
    }
    expect(harness.stage.status().role).toBe("leader");

    const total = 400;
    for (let k = 0; k < total; k++) expect(harness.stage.offer(harness.put(k))).toBe(true);
    // Apply drains slowly: the queue is full most of the time.
    const settledBy = Date.now() + 30_000;
    while (Date.now() < settledBy) {
      await sleep(2);
      harness.drainApply();
      const answered = new Set(harness.replies.map((r) => r.target.id));
      const waiting = harness.applied.filter((item) => item.kind === "wait");
      if (answered.size + waiting.length >= total && harness.stage.status().commitIndex > 0) {
        const lastWait = Math.max(0, ...waiting.map((w) => (w.kind === "wait" ? w.index : 0)));
        if (harness.stage.status().appliedIndex >= lastWait) break;
      }
    }

    const refused = harness.replies.filter((r) => !r.body.ok);
    for (const reply of refused)
      expect(reply.body.ok === false && reply.body.error.code).toBe("OVERLOADED");
    const waits = harness.applied.filter((item) => item.kind === "wait");
    // Every put is either refused (nothing done) or has a waiter at apply: none vanished.
    expect(refused.length + waits.length).toBe(total);
    expect(waits.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    // Each waiter reached apply before the committed entry it waits for, and every waited
    // index was committed and handed to apply, in log order without gaps.
    const committed: number[] = [];
    const seenWaits = new Set<number>();
    for (const item of harness.applied) {
      if (item.kind === "wait") {
        expect(committed).not.toContain(item.index);
        seenWaits.add(item.index);
      } else if (item.kind === "committed") {
        for (const entry of item.entries) committed.push(entry.index);
      }
    }
    expect(committed).toEqual(committed.map((_, k) => k + 1));
    for (const index of seenWaits) expect(committed).toContain(index);
    // The WAL saw every entry before it was committed.
    const persisted = new Set(
      harness.walSeen.flatMap((ready) => ready.entries.map((e) => e.index)),
    );
    for (const index of committed) expect(persisted.has(index)).toBe(true);
  });
});

describe("raft-step - forwarded requests", () => {
  test("raft-step - a forward reply is taken only from the leader the request went to", async () => {
    const config = raftConfig(
      {
        id: "n1",
        group: 1,
        initialConfig: { voters: ["n1", "n2", "n3"], outgoing: [], learners: [] },
      },
      { electionTicks: 1000, heartbeatTicks: 1 },
    );
    const core = new InlineRaftCore(new RaftNode(config, new SeededRandom(3), restored), 0);
    const forwards: { to: string; forwardId: number }[] = [];
    const stage = new RaftStepStage(
      core,
      {
        wal: { offer: () => true, hasRoom: () => true },
        apply: { offer: () => true, hasRoom: () => true },
        replicate: {
          send: () => {},
          forward: (to, forwardId) => {
            forwards.push({ to, forwardId });
            return true;
          },
          addPeer: () => {},
          peerNames: () => [],
          removePeer: () => {},
          notifyRemoved: () => {},
          forwardReply: () => {},
        },
        respond: { reply: () => {} },
        fatal: (error) => {
          throw error;
        },
      },
      new MemberDirectory(new Map([["n1", "127.0.0.1:1"]])),
      {
        capacityItems: 100,
        batchItems: 16,
        tickMs: 1_000,
        forwarding: true,
        adminTimeoutMs: 1_000,
        vectorDefaults: {
          engine: "flat",
          hnsw: { m: 16, efConstruction: 200, efSearch: 50 },
          collections: {},
        },
      },
      silent,
    );
    stages.push(stage);
    // n2 leads term 1: its heartbeat makes it n1's leader.
    stage.offer({
      kind: "peer",
      messages: [
        {
          type: "heartbeat",
          group: 1,
          from: "n2",
          to: "n1",
          term: 1,
          leaderCommit: 0,
          readSeq: 0,
          sentTick: 0,
        },
      ],
    });
    const by = Date.now() + 10_000;
    while (stage.status().leader !== "n2" && Date.now() < by) await sleep(5);
    expect(stage.status().leader).toBe("n2");
    stage.offer({
      kind: "client",
      target: { kind: "local", connId: 1, id: 1 },
      request: { op: "put", key: "k", value: "v" },
      admin: false,
      deadline: Date.now() + 60_000,
    });
    while (forwards.length === 0 && Date.now() < by) await sleep(5);
    expect(forwards).toHaveLength(1);
    const { to, forwardId } = forwards[0]!;
    expect(to).toBe("n2");
    // Another peer (n3, or anyone who said hello) cannot answer for the leader.
    expect(stage.onForwardReply(forwardId, "n3")).toBeNull();
    expect(stage.stats.strayForwardReplies).toBe(1);
    expect(stage.onForwardReply(forwardId, "n2")?.target).toEqual({
      kind: "local",
      connId: 1,
      id: 1,
    });
    expect(stage.onForwardReply(forwardId, "n2")).toBeNull();
  });
});
