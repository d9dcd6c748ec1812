import pino from "pino";
import { afterEach, describe, expect, test } from "vitest";
import { AssertionError } from "../../queues/assert.js";
import { raftConfig } from "../../raft/config.js";
import { RaftNode } from "../../raft/node.js";
import { SeededRandom } from "../../raft/rand.js";
import type { Ready } from "../../raft/types.js";
import { ReadServer, type ReadStats } from "../../stages/apply/read-server.js";
import { Waiters } from "../../stages/apply/waiters.js";
import type {
  ApplyItem,
  ClientItem,
  ReplicatePort,
  Reply,
  RespondPort,
  WalItem,
} from "../../stages/items.js";
import type { ErrorCode } from "../../stages/protocol.js";
import { ReadyFanout } from "../../stages/raft-step/fanout.js";
import { Forwarding } from "../../stages/raft-step/forwarding.js";
import { MemberDirectory } from "../../stages/raft-step/members.js";
import { InlineRaftCore } from "../../stages/raft-step/raft-core.js";
import { RaftStepStage } from "../../stages/raft-step/raft-step.js";
import { PendingReads } from "../../stages/raft-step/reads.js";
import { Outbox, outboxCapacity, readyBudgetMax } from "../../stages/raft-step/rounds.js";
import { CoreEvents } from "../../stages/raft-step/status.js";

/** Each queue of raft-step and apply filled to its bound (issue 11: no unbounded arrays). */

const silent = pino({ level: "silent" });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const noRoom = { offer: () => false, hasRoom: () => false };
const room = { offer: () => true, hasRoom: () => true };
const replicate = {
  send: () => {},
  forward: () => true,
  addPeer: () => {},
  peerNames: () => [],
  removePeer: () => {},
  notifyRemoved: () => {},
  forwardReply: () => {},
} as unknown as ReplicatePort;

function ready(k: number): Ready {
  return {
    softState: null,
    hardState: { term: 1, vote: null, commit: k },
    entries: [],
    snapshot: null,
    snapshotChunks: [],
    messages: [],
    persistedMessages: [],
    committed: [],
    readStates: [],
  };
}

function client(id: number, deadline = 60_000): ClientItem {
  return {
    kind: "client",
    target: { kind: "local", connId: 1, id },
    request: { op: "get", key: `k${id}`, consistency: "linearizable" },
    admin: false,
    deadline,
  } as unknown as ClientItem;
}

const code = (reply: Reply): ErrorCode | true => (reply.body.ok ? true : reply.body.error.code);

describe("raft-step's outbox", () => {
  test("outbox - holds one round's waiters, its Readys and a lease query; a push past that is a broken bound", () => {
    const capacity = outboxCapacity(4);
    expect(capacity).toBe(4 + readyBudgetMax + 1);
    const outbox = new Outbox({ wal: noRoom, apply: noRoom, inWal: noRoom }, () => {}, capacity);
    for (let k = 0; k < capacity; k++) outbox.push({ kind: "ready", ready: ready(k) });
    outbox.drain(); // No room downstream: all of it waits, in order.
    expect(outbox.size).toBe(capacity);
    expect(outbox.readies).toBe(capacity);
    expect(outbox.readyBudget(0)).toBe(0);
    expect(() => outbox.push({ kind: "ready", ready: ready(99) })).toThrow(AssertionError);
  });

  test("outbox - a Ready waits for a slot among the Readys in wal-append, and the budget counts them", () => {
    let inWalRoom = 0;
    const dispatched: Ready[] = [];
    const ports = { wal: room, apply: room, inWal: { hasRoom: (n: number) => n <= inWalRoom } };
    const outbox = new Outbox(ports, (r) => dispatched.push(r), outboxCapacity(1));
    expect(outbox.readyBudget(0)).toBe(0);
    outbox.push({ kind: "ready", ready: ready(1) });
    outbox.drain();
    expect(dispatched).toEqual([]);
    inWalRoom = 3;
    outbox.drain();
    expect(dispatched.length).toBe(1);
    expect(outbox.readies).toBe(0);
    expect(outbox.readyBudget(0)).toBe(3);
  });
});

describe("raft-step's Readys in wal-append", () => {
  function fanout(capacity: number): ReadyFanout {
    const directory = new MemberDirectory(new Map([["n1", "127.0.0.1:1"]]));
    const status = () => ({ role: "leader" }) as never;
    return new ReadyFanout(
      { wal: room, apply: room, replicate },
      directory,
      {
        self: "n1",
        events: new CoreEvents(1, status, silent),
        settleReads: () => {},
        stats: { readies: 0 },
      },
      capacity,
    );
  }

  test("in wal - full at its capacity; a dispatch past it is a broken bound; persisted frees a slot", () => {
    const out = fanout(2);
    const a = ready(1);
    out.dispatch(a);
    out.dispatch(ready(2));
    expect(out.inWal.hasRoom(1, 0)).toBe(false);
    expect(() => out.dispatch(ready(3))).toThrow(AssertionError);
    out.persisted(a);
    expect(out.inWal.depth).toBe(1);
    expect(out.inWal.hasRoom(1, 0)).toBe(true);
    expect(() => out.persisted(ready(4))).toThrow("out of order");
  });
});

describe("raft-step with its bounds at the edge", () => {
  const stages: RaftStepStage[] = [];
  afterEach(async () => {
    for (const stage of stages.splice(0)) await stage.close();
  });

  function stageWith(ports: {
    wal: { offer: (item: WalItem) => boolean; hasRoom: () => boolean };
    waitersRoom?: (n: number) => boolean;
    readiesInWalMax: number;
  }): { stage: RaftStepStage; replies: Reply[]; applied: ApplyItem[] } {
    const config = raftConfig(
      { id: "n1", group: 1, initialConfig: { voters: ["n1"], outgoing: [], learners: [] } },
      { electionTicks: 4, heartbeatTicks: 1 },
    );
    const restored = {
      hardState: { term: 0, vote: null, commit: 0 },
      snapshot: null,
      entries: [],
      applied: 0,
    };
    const core = new InlineRaftCore(new RaftNode(config, new SeededRandom(3), restored), 0);
    const replies: Reply[] = [];
    const applied: ApplyItem[] = [];
    const stage: RaftStepStage = new RaftStepStage(
      core,
      {
        wal: ports.wal,
        apply: {
          offer: (item) => applied.push(item) > 0,
          hasRoom: () => true,
          ...(ports.waitersRoom ? { waitersRoom: ports.waitersRoom } : {}),
        },
        replicate,
        respond: { reply: (reply) => replies.push(reply) },
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
        vectorDefaults: { engine: "flat", hnsw: { m: 16, efConstruction: 200, efSearch: 50 } },
        readiesInWalMax: ports.readiesInWalMax,
      } as never,
      silent,
    );
    stages.push(stage);
    return { stage, replies, applied };
  }

  async function elected(stage: RaftStepStage): Promise<void> {
    stage.start();
    const by = Date.now() + 20_000;
    while (stage.status().role !== "leader" && Date.now() < by) await sleep(5);
    expect(stage.status().role).toBe("leader");
  }

  const put = (id: number): ClientItem =>
    ({
      kind: "client",
      target: { kind: "local", connId: 1, id },
      request: { op: "put", key: `k${id}`, value: "v" },
      admin: false,
      deadline: Date.now() + 60_000,
    }) as unknown as ClientItem;

  test("raft-step - a WAL that holds its Readys: no more than readiesInWalMax go to it, none is lost", async () => {
    const held: Ready[] = [];
    let writing = true;
    const wal = {
      offer: (item: WalItem) => {
        if (item.kind !== "ready") return true;
        if (writing) setTimeout(() => stage.onPersisted(item.ready), 1);
        else held.push(item.ready);
        return true;
      },
      hasRoom: () => true,
    };
    const { stage } = stageWith({ wal, readiesInWalMax: 2 });
    await elected(stage);
    writing = false; // From here wal-append takes Readys and makes none durable.
    // Ten batches, each its own round and, with room, its own Ready.
    for (let k = 0; k < 50; k++) {
      expect(stage.offer(put(k))).toBe(true);
      if (k % 5 === 4) await sleep(10);
    }
    await sleep(50);
    expect(held.length).toBe(2);
    expect(stage.readiesWaiting).toBe(0); // Held back in the core, not taken.
    expect(stage.queues()).toMatchObject({ readiesInWal: 2, outboxItems: 0 });
    writing = true;
    for (const r of held.splice(0)) stage.onPersisted(r);
    const by = Date.now() + 20_000;
    while (stage.status().commitIndex < 51 && Date.now() < by) await sleep(5);
    expect(stage.status().commitIndex).toBeGreaterThanOrEqual(51); // 50 puts after the no-op.
  });

  test("raft-step - apply's waiters at their bound: a write is answered OVERLOADED and not proposed", async () => {
    let waitersFree = 0;
    const wal = {
      offer: (item: WalItem) => {
        if (item.kind === "ready") setTimeout(() => stage.onPersisted(item.ready), 1);
        return true;
      },
      hasRoom: () => true,
    };
    const { stage, replies, applied } = stageWith({
      wal,
      readiesInWalMax: 64,
      waitersRoom: (n) => n <= waitersFree,
    });
    await elected(stage);
    const lastIndex = stage.status().lastIndex;
    stage.offer(put(1));
    await sleep(50);
    expect(replies.map(code)).toEqual(["OVERLOADED"]);
    expect(stage.status().lastIndex).toBe(lastIndex);
    waitersFree = 1;
    stage.offer(put(2));
    const by = Date.now() + 20_000;
    while (!applied.some((item) => item.kind === "wait") && Date.now() < by) await sleep(5);
    expect(applied.filter((item) => item.kind === "wait").length).toBe(1);
  });
});

describe("raft-step's request tables", () => {
  test("pending reads - full at capacity: add refuses (the caller answers OVERLOADED), a settled read frees a slot", () => {
    const served: number[] = [];
    const reads = new PendingReads(
      { serve: (_, index) => served.push(index), refuse: () => {} },
      2,
    );
    const a = reads.add("n1", client(1));
    expect(reads.add("n1", client(2))).not.toBeNull();
    expect(reads.add("n1", client(3))).toBeNull();
    expect(reads.size).toBe(2);
    reads.settle([{ ctx: a!, index: 7, ok: true }]);
    expect(served).toEqual([7]);
    expect(reads.add("n1", client(4))).not.toBeNull();
  });

  test("forwarding - at capacity a forward is answered OVERLOADED, not sent", () => {
    const refused: [number, ErrorCode][] = [];
    let sent = 0;
    const forwarding = new Forwarding(
      {
        replicate: { forward: () => ++sent > 0 } as unknown as ReplicatePort,
        respond: {} as RespondPort,
        refuse: (item, code) =>
          refused.push([Number(item.target.kind === "local" && item.target.id), code]),
        now: () => 0,
      },
      new MemberDirectory(new Map()),
      { forwarding: true, adminTimeoutMs: 10_000 },
      { forwarded: 0, strayForwardReplies: 0 },
      silent,
      2,
    );
    for (let id = 1; id <= 3; id++) forwarding.notLeader(client(id), "n2");
    expect(sent).toBe(2);
    expect(forwarding.size).toBe(2);
    expect(refused).toEqual([[3, "OVERLOADED"]]);
    forwarding.peerGone("n2"); // Both answered TIMEOUT: room again.
    forwarding.notLeader(client(4), "n2");
    expect(sent).toBe(3);
  });
});

describe("apply's tables", () => {
  const waiter = (deadline: number) => ({
    term: 1,
    target: { kind: "local" as const, connId: 1, id: 1 },
    request: { op: "put", key: "k", value: "v" } as never,
    deadline,
  });

  test("waiters - full at capacity: an add past it is a broken bound; take and expire free slots", () => {
    const waiters = new Waiters(3);
    waiters.add(1, waiter(10));
    waiters.add(1, waiter(10)); // A batched keep-alive's second client at the same index.
    waiters.add(2, waiter(99));
    expect(waiters.size).toBe(3);
    expect(() => waiters.add(3, waiter(99))).toThrow(AssertionError);
    expect(waiters.take(1).length).toBe(2);
    expect(waiters.size).toBe(1);
    expect(waiters.expire(100).length).toBe(1);
    expect(waiters.size).toBe(0);
  });

  test("waiting reads - full at capacity: a read past it is answered OVERLOADED, counted, not held", async () => {
    let appliedIndex = 0;
    const replies: Reply[] = [];
    const stats: ReadStats = {
      answered: 0,
      reads: 0,
      readsRefused: 0,
      readsDropped: 0,
      readsWaitFull: 0,
      readsWaiting: 0,
      timeouts: 0,
    };
    const server = new ReadServer(
      {
        machine: { read: async () => ({ ok: true, result: { value: "v" } }) },
        respond: { reply: (reply) => replies.push(reply) },
        appliedIndex: () => appliedIndex,
      },
      stats,
      2,
    );
    const read = (id: number, index: number) => ({
      kind: "read" as const,
      index,
      target: { kind: "local" as const, connId: 1, id },
      request: client(id).request,
      deadline: 60_000,
    });
    for (let id = 1; id <= 3; id++) await server.handle(read(id, 5));
    expect(server.waiting).toBe(2);
    expect(stats.readsWaiting).toBe(2);
    expect(stats.readsWaitFull).toBe(1);
    expect(replies.map((r) => [r.target.id, code(r)])).toEqual([[3, "OVERLOADED"]]);
    appliedIndex = 5;
    await server.serveReady();
    expect(server.waiting).toBe(0);
    expect(stats.readsWaiting).toBe(0);
    expect(replies.map((r) => [r.target.id, code(r)])).toEqual([
      [3, "OVERLOADED"],
      [1, true],
      [2, true],
    ]);
  });
});
