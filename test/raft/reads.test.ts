import { describe, expect, test } from "vitest";
import { AssertionError } from "../../raft/assert.js";
import { ReadOnlyQueue } from "../../raft/read-only.js";
import type { Heartbeat } from "../../raft/types.js";
import { Harness, is } from "./harness.js";

const ET = 10;
const DRIFT = 2;
const LEASE = 2;

function electedCluster(settings = {}, seed = 1): Harness {
  const h = new Harness(
    ["a", "b", "c"],
    { leaseTicks: LEASE, leaseDriftTicks: DRIFT, ...settings },
    seed,
  );
  h.elect("a");
  h.tickAndStabilize(1);
  return h;
}

const statesOf = (h: Harness, id: string) => h.readStates.get(id)!;

describe("reads", () => {
  test("reads - ReadIndex is confirmed by a heartbeat quorum and served at the commit index", () => {
    const h = electedCluster();
    const a = h.node("a");
    h.propose("a", "x=1");
    h.stabilize();
    expect(a.status().commitIndex).toBe(2);
    h.take();
    a.readIndex("r1");
    h.processAll();
    expect(statesOf(h, "a")).toEqual([]);
    const heartbeats = h.pending(is("heartbeat", "a")) as Heartbeat[];
    expect(heartbeats.map((m) => m.to).sort()).toEqual(["b", "c"]);
    const seq = heartbeats[0]!.readSeq;
    expect(seq).toBeGreaterThan(0);
    // One follower's echo plus the leader is a quorum of three.
    h.take(is("heartbeat", "a", "c"));
    h.deliver(is("heartbeat", "a", "b"));
    expect(statesOf(h, "a")).toEqual([]);
    h.deliver(is("heartbeatResp", "b", "a"));
    expect(statesOf(h, "a")).toEqual([{ ctx: "r1", ok: true, index: 2 }]);
  });

  test("reads - one heartbeat round confirms every read queued before it", () => {
    const h = electedCluster();
    const a = h.node("a");
    h.take();
    for (const ctx of ["r1", "r2", "r3"]) a.readIndex(ctx);
    h.processAll();
    expect(h.pending(is("heartbeat", "a", "b")).length).toBe(1);
    h.stabilize();
    expect(statesOf(h, "a").map((s) => [s.ctx, s.ok])).toEqual([
      ["r1", true],
      ["r2", true],
      ["r3", true],
    ]);
  });

  test("reads - reads that arrive while a round is out ride the next round, sent when it is confirmed", () => {
    const h = electedCluster();
    const a = h.node("a");
    h.take();
    a.readIndex("r1");
    h.processAll();
    expect(h.pending(is("heartbeat", "a", "b")).length).toBe(1);
    // Two more batches of reads while r1's round is out: no new heartbeat per batch.
    a.readIndex("r2");
    h.processAll();
    a.readIndex("r3");
    h.processAll();
    expect(h.pending(is("heartbeat", "a", "b")).length).toBe(1);
    h.take(is("heartbeat", "a", "c"));
    h.deliver(is("heartbeat", "a", "b"));
    h.deliver(is("heartbeatResp", "b", "a"));
    expect(statesOf(h, "a").map((s) => s.ctx)).toEqual(["r1"]);
    // r1's round confirmed: one heartbeat now carries r2 and r3 together.
    h.processAll();
    const next = h.pending(is("heartbeat", "a", "b")) as Heartbeat[];
    expect(next.length).toBe(1);
    expect(next[0]!.readSeq).toBe(3);
    h.stabilize();
    expect(statesOf(h, "a").map((s) => [s.ctx, s.ok])).toEqual([
      ["r1", true],
      ["r2", true],
      ["r3", true],
    ]);
  });

  test("reads - a lost round does not strand the reads behind it: the periodic heartbeat carries them", () => {
    const h = electedCluster({ heartbeatTicks: 1 });
    const a = h.node("a");
    h.take();
    a.readIndex("r1");
    h.processAll();
    h.take(is("heartbeat", "a")); // the round is lost
    a.readIndex("r2");
    h.processAll();
    expect(h.pending(is("heartbeat", "a")).length).toBe(0);
    h.tick("a");
    h.stabilize();
    expect(statesOf(h, "a").map((s) => [s.ctx, s.ok])).toEqual([
      ["r1", true],
      ["r2", true],
    ]);
  });

  test("reads - a configuration shrunk to the leader alone confirms the reads waiting for a round", () => {
    const h = new Harness(["a", "b"], {}, 1);
    h.elect("a");
    h.tickAndStabilize(1);
    const a = h.node("a");
    h.add("c");
    expect(h.changeConfig("a", [{ type: "addLearner", node: "c" }]).ok).toBe(true);
    h.stabilize();
    h.take();
    a.readIndex("r1");
    h.processAll();
    h.take(is("heartbeat", "a", "b")); // lost
    h.deliver(is("heartbeat", "a", "c"));
    const [late] = h.take(is("heartbeatResp", "c", "a")); // the learner's echo, delayed
    a.readIndex("r2"); // a round is out: r2 waits for the next one
    h.processAll();
    expect(h.changeConfig("a", [{ type: "remove", node: "b" }]).ok).toBe(true);
    h.stabilize();
    // A learner's echo cannot confirm anything, and must not crash the leader either.
    h.stepMessage(late!);
    h.processAll();
    h.tick("a");
    h.stabilize();
    expect(statesOf(h, "a").map((s) => [s.ctx, s.ok])).toEqual([
      ["r1", true],
      ["r2", true],
    ]);
  });

  test("reads - an echo of an older heartbeat does not confirm a newer read", () => {
    const h = electedCluster();
    const a = h.node("a");
    h.take();
    h.tick("a"); // a plain heartbeat round, before the read
    const old = h.take(is("heartbeat", "a"));
    a.readIndex("r");
    h.processAll();
    h.take();
    for (const m of old) h.stepMessage(m);
    h.deliver(is("heartbeatResp"));
    expect(statesOf(h, "a")).toEqual([]);
  });

  test("reads - ReadIndex waits until the leader has committed an entry of its term", () => {
    const h = new Harness(["a", "b", "c"]);
    const a = h.node("a");
    a.campaign("pre");
    h.processAll();
    for (let k = 0; k < 10 && a.status().role !== "leader"; k++) {
      h.deliver((m) => m.type === "vote" || m.type === "voteResp");
    }
    expect(a.status().role).toBe("leader");
    expect(a.status().commitIndex).toBe(0);
    a.readIndex("early");
    a.readIndex("early-lease", "lease");
    h.processAll();
    expect(statesOf(h, "a")).toEqual([]);
    expect(a.leaseValid()).toBe(false);
    h.stabilize();
    expect(a.status().commitIndex).toBe(1);
    const answers = statesOf(h, "a").map((s) => [s.ctx, s.ok, s.index]);
    expect(answers.sort()).toEqual([
      ["early", true, 1],
      ["early-lease", true, 1],
    ]);
  });

  test("reads - a partitioned old leader never confirms a read, and fails it when it steps down", () => {
    for (const seed of [1, 2, 3]) {
      const h = electedCluster({}, seed);
      const a = h.node("a");
      h.isolate("a");
      a.readIndex("stale");
      h.processAll();
      // Meanwhile b and c elect a leader and commit a newer write.
      for (let k = 0; k < 5 * ET && !h.leaders().some((n) => n.id !== "a"); k++) {
        h.tickAndStabilize(1, ["b", "c"]);
      }
      const next = h.leaders().find((n) => n.id !== "a")!;
      expect(next, `seed ${seed}`).toBeDefined();
      h.propose(next.id, "x=2");
      h.tickAndStabilize(2, ["b", "c"]);
      expect(statesOf(h, "a"), `seed ${seed}`).toEqual([]);
      h.tick("a", 2 * ET);
      expect(a.status().role, `seed ${seed}`).toBe("follower");
      expect(statesOf(h, "a"), `seed ${seed}`).toEqual([{ ctx: "stale", ok: false, index: 0 }]);
    }
  });

  test("reads - a follower's read is forwarded to the leader and answered with its read index", () => {
    const h = electedCluster();
    const b = h.node("b");
    h.propose("a", "x=1");
    h.stabilize();
    b.readIndex("fwd");
    h.processAll();
    expect(h.pending(is("readIndex", "b", "a")).map((m) => m.type)).toEqual(["readIndex"]);
    h.stabilize();
    expect(statesOf(h, "b")).toEqual([{ ctx: "fwd", ok: true, index: 2 }]);
    expect(statesOf(h, "a")).toEqual([]);
  });

  test("reads - a read with no known leader fails at once; one sent to a non-leader is refused", () => {
    const h = new Harness(["a", "b", "c"]);
    h.node("b").readIndex("nobody");
    h.processAll();
    expect(statesOf(h, "b")).toEqual([{ ctx: "nobody", ok: false, index: 0 }]);
    h.elect("a");
    h.node("c").step({ type: "readIndex", group: 1, from: "b", to: "c", term: 1, ctx: "wrong" });
    h.stabilize();
    expect(statesOf(h, "b").at(-1)).toEqual({ ctx: "wrong", ok: false, index: 0 });
  });

  test("reads - pending reads beyond maxPendingReads are refused", () => {
    const h = electedCluster({ maxPendingReads: 2 });
    const a = h.node("a");
    h.isolate("b", "c");
    for (const ctx of ["r1", "r2", "r3"]) a.readIndex(ctx);
    h.processAll();
    expect(statesOf(h, "a")).toEqual([{ ctx: "r3", ok: false, index: 0 }]);
  });

  test("reads - a lease read is served at once, without a round trip, while the lease holds", () => {
    const h = electedCluster();
    const a = h.node("a");
    h.propose("a", "x=1");
    h.stabilize();
    expect(a.leaseValid()).toBe(true);
    const sentBefore = h.sent.length;
    a.readIndex("lease", "lease");
    h.processAll();
    expect(statesOf(h, "a")).toEqual([{ ctx: "lease", ok: true, index: 2 }]);
    expect(h.sent.length).toBe(sentBefore);
  });

  test("reads - the lease ends leaseTicks after the last acknowledged send", () => {
    const h = electedCluster();
    const a = h.node("a");
    h.tickAndStabilize(1);
    const acked = a.tickCount; // the heartbeat sent at this tick was acknowledged
    h.isolate("a");
    while (a.tickCount < acked + LEASE - 1) h.tick("a");
    expect(a.leaseValid()).toBe(true);
    h.tick("a");
    expect(a.leaseValid()).toBe(false);
    expect(a.status().role).toBe("leader");
    a.readIndex("late", "lease");
    h.processAll();
    // Not served from the lease: it is a ReadIndex round that never completes.
    expect(statesOf(h, "a")).toEqual([]);
  });

  test("reads - a lease read is never served while another leader may exist", () => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const h = electedCluster({}, seed);
      const a = h.node("a");
      h.isolate("a");
      let served = 0;
      let otherLeaderSeen = false;
      for (let k = 0; k < 4 * ET; k++) {
        h.tickAndStabilize(1);
        a.readIndex(`r${k}`, "lease");
        h.processAll();
        const ok = statesOf(h, "a").filter((s) => s.ok).length;
        const other = h.leaders().some((n) => n.id !== "a");
        otherLeaderSeen ||= other;
        if (ok > served) {
          expect(otherLeaderSeen, `seed ${seed}, tick ${k}: lease read beside a new leader`).toBe(
            false,
          );
          served = ok;
        }
      }
      expect(served, `seed ${seed}`).toBeGreaterThan(0);
      expect(otherLeaderSeen, `seed ${seed}`).toBe(true);
    }
  });

  test("reads - a live leader wrongly reported gone (peerUnreachable) serves no lease read beside a new leader", () => {
    // A firewall rejecting with a reset makes a live leader's port look dead to every follower.
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const h = electedCluster({}, seed);
      const a = h.node("a");
      h.isolate("a");
      h.node("b").peerUnreachable("a");
      h.node("c").peerUnreachable("a");
      let otherLeaderSeen = false;
      let served = 0;
      for (let k = 0; k < 2 * ET; k++) {
        h.tickAndStabilize(1);
        a.readIndex(`r${k}`, "lease");
        h.processAll();
        otherLeaderSeen ||= h.leaders().some((n) => n.id !== "a");
        const ok = statesOf(h, "a").filter((s) => s.ok).length;
        if (ok > served) {
          expect(otherLeaderSeen, `seed ${seed}, tick ${k}: lease read beside a new leader`).toBe(
            false,
          );
          served = ok;
        }
      }
      // The early election happened, well before a full election timeout.
      expect(otherLeaderSeen, `seed ${seed}`).toBe(true);
    }
  });

  test("reads - without checkQuorum a lease read falls back to ReadIndex", () => {
    const h = electedCluster({ checkQuorum: false });
    const a = h.node("a");
    expect(a.leaseValid()).toBe(false);
    h.take();
    a.readIndex("l", "lease");
    h.processAll();
    expect(statesOf(h, "a")).toEqual([]);
    expect(h.pending(is("heartbeat", "a")).length).toBe(2);
    h.stabilize();
    expect(statesOf(h, "a")).toEqual([{ ctx: "l", ok: true, index: 1 }]);
  });

  test("reads - no lease reads during a leadership transfer", () => {
    const h = electedCluster();
    const a = h.node("a");
    h.isolate("c");
    expect(a.leaseValid()).toBe(true);
    a.transferLeadership("c");
    expect(a.leaseValid()).toBe(false);
    h.take();
    a.readIndex("l", "lease");
    h.processAll();
    expect(statesOf(h, "a")).toEqual([]);
    h.stabilize(); // b confirms the ReadIndex round instead
    expect(statesOf(h, "a")).toEqual([{ ctx: "l", ok: true, index: 1 }]);
  });

  test("reads - no lease read once a TimeoutNow went out in this term, even after the transfer is abandoned", () => {
    const h = electedCluster();
    const a = h.node("a");
    const c = h.node("c");
    a.transferLeadership("c");
    h.processAll();
    // The TimeoutNow is delayed past the election timeout; a abandons the transfer meanwhile.
    const [timeoutNow] = h.take(is("timeoutNow", "a", "c"));
    expect(timeoutNow).toBeDefined();
    h.tickAndStabilize(ET);
    expect(a.status().leadTransferee).toBeNull();
    // It arrives: c campaigns with transfer=true, which overrides b's lease; a is cut from c.
    h.stepMessage(timeoutNow!);
    h.cut("a", "c");
    h.stabilize();
    expect(c.status().role).toBe("leader");
    const write = h.propose("c", "x=2");
    h.stabilize();
    expect(c.status().commitIndex).toBeGreaterThanOrEqual((write as { index: number }).index);
    // a has not heard of term 2 yet; a lease read now would miss x=2.
    a.readIndex("stale?", "lease");
    h.processAll();
    const served = statesOf(h, "a").filter((s) => s.ok);
    expect(
      served,
      `a served ${JSON.stringify(served)} while c committed index ${c.status().commitIndex}`,
    ).toEqual([]);
  });

  test("reads - a single voter serves reads at once", () => {
    const h = new Harness(["a"]);
    h.tick("a", 2 * ET);
    h.node("a").readIndex("solo");
    h.processAll();
    expect(statesOf(h, "a")).toEqual([{ ctx: "solo", ok: true, index: 1 }]);
  });
});

describe("read-only", () => {
  test("read-only - reads get increasing sequence numbers and are released oldest first", () => {
    const queue = new ReadOnlyQueue(10);
    expect(queue.add("r1", 5, "a")).toBe(true);
    expect(queue.add("r2", 6, "b")).toBe(true);
    expect(queue.add("r3", 6, "a")).toBe(true);
    expect(queue.lastSeq).toBe(3);
    expect(queue.size).toBe(3);
    queue.sent();
    expect(queue.release(0)).toEqual([]);
    expect(queue.release(2).map((r) => [r.ctx, r.index, r.seq, r.from])).toEqual([
      ["r1", 5, 1, "a"],
      ["r2", 6, 2, "b"],
    ]);
    expect(queue.release(2)).toEqual([]);
    expect(queue.size).toBe(1);
    expect(queue.release(3).map((r) => r.ctx)).toEqual(["r3"]);
    expect(queue.size).toBe(0);
  });

  test("read-only - a full queue refuses, and frees room as reads are released", () => {
    const queue = new ReadOnlyQueue(2);
    expect(queue.add("r1", 1, "a")).toBe(true);
    expect(queue.add("r2", 1, "a")).toBe(true);
    expect(queue.add("r3", 1, "a")).toBe(false);
    expect(queue.lastSeq).toBe(2);
    queue.sent();
    queue.release(1);
    expect(queue.add("r3", 1, "a")).toBe(true);
    expect(queue.lastSeq).toBe(3);
  });

  test("read-only - drain fails everything pending; sequence numbers keep increasing", () => {
    const queue = new ReadOnlyQueue(10);
    queue.add("r1", 1, "a");
    queue.add("r2", 1, "b");
    queue.sent();
    queue.release(1);
    expect(queue.drain().map((r) => r.ctx)).toEqual(["r2"]);
    expect(queue.size).toBe(0);
    queue.add("r3", 1, "a");
    expect(queue.lastSeq).toBe(3);
    queue.sent();
    expect(queue.release(3).map((r) => r.ctx)).toEqual(["r3"]);
  });

  test("read-only - releasing a round never sent is a bug", () => {
    const queue = new ReadOnlyQueue(10);
    queue.add("r1", 1, "a");
    queue.add("r2", 1, "a");
    expect(() => queue.release(1)).toThrow(AssertionError); // Added, not sent yet.
    queue.sent();
    expect(queue.release(1).map((r) => r.ctx)).toEqual(["r1"]);
    expect(() => queue.release(3)).toThrow(AssertionError);
  });

  test("read-only - one round at a time: reads during a round wait for the next", () => {
    const queue = new ReadOnlyQueue(10);
    expect(queue.roundInFlight).toBe(false);
    queue.add("r1", 1, "a");
    expect(queue.unsent).toBe(true);
    queue.sent();
    expect(queue.roundInFlight).toBe(true);
    expect(queue.unsent).toBe(false);
    queue.add("r2", 1, "a");
    queue.add("r3", 1, "a");
    expect(queue.roundInFlight).toBe(true);
    expect(queue.unsent).toBe(true);
    expect(queue.release(1).map((r) => r.ctx)).toEqual(["r1"]);
    expect(queue.roundInFlight).toBe(false);
    expect(queue.unsent).toBe(true);
    queue.sent();
    expect(queue.release(3).map((r) => r.ctx)).toEqual(["r2", "r3"]);
    expect(queue.roundInFlight).toBe(false);
    expect(queue.unsent).toBe(false);
    // Leadership lost with a round out: nothing is in flight for the next term.
    queue.add("r4", 1, "a");
    queue.sent();
    queue.drain();
    expect(queue.roundInFlight).toBe(false);
    expect(queue.unsent).toBe(false);
  });

  test("read-only - many reads stay in order across internal compaction", () => {
    const queue = new ReadOnlyQueue(5000);
    let released = 0;
    for (let k = 1; k <= 4000; k++) {
      queue.add(`r${k}`, k, "a");
      queue.sent();
      if (k % 3 === 0) {
        for (const read of queue.release(k - 1)) {
          released++;
          expect(read.seq).toBe(released);
        }
      }
    }
    for (const read of queue.release(4000)) {
      released++;
      expect(read.seq).toBe(released);
    }
    expect(released).toBe(4000);
    expect(queue.size).toBe(0);
  });
});
