import { describe, expect, test } from "vitest";
import type { AppendResponse, VoteRequest } from "../../raft/types.js";
import { Harness, is, sameLogs } from "./harness.js";

const ET = 10;

function electedCluster(settings = {}): Harness {
  const h = new Harness(["a", "b", "c"], settings);
  h.elect("a");
  h.tickAndStabilize(1);
  return h;
}

describe("transfer", () => {
  test("transfer - to an up-to-date follower: TimeoutNow at once and the target wins the next term", () => {
    const h = electedCluster();
    const a = h.node("a");
    const b = h.node("b");
    expect(a.transferLeadership("b")).toMatchObject({ ok: true });
    expect(a.status().leadTransferee).toBe("b");
    h.processAll();
    expect(h.pending((m) => m.type === "timeoutNow").map((m) => m.to)).toEqual(["b"]);
    h.stabilize();
    // No ticks needed: the transfer campaign overrides the voters' leader lease.
    expect(b.status().role).toBe("leader");
    expect(b.status().term).toBe(2);
    expect(a.status().role).toBe("follower");
    expect(a.status().leader).toBe("b");
    expect(a.status().leadTransferee).toBeNull();
    const votes = h.sentWhere((m) => m.type === "vote" && m.from === "b") as VoteRequest[];
    expect(votes.every((m) => m.transfer && !m.pre)).toBe(true);
    h.tickAndStabilize(1);
    expect(sameLogs([a, b, h.node("c")])).toBeNull();
  });

  test("transfer - to a lagging node: it is caught up first, then sent TimeoutNow", () => {
    const h = electedCluster();
    const a = h.node("a");
    const c = h.node("c");
    h.isolate("c");
    for (let k = 0; k < 5; k++) h.propose("a", `k${k}`);
    h.tickAndStabilize(1, ["a", "b"]);
    h.heal();
    expect(a.transferLeadership("c").ok).toBe(true);
    h.processAll();
    expect(h.pending((m) => m.type === "timeoutNow")).toEqual([]);
    // Meanwhile the leader takes no proposals (nor config changes).
    expect(h.propose("a", "refused")).toEqual({ ok: false, reason: "transferring", leader: "a" });
    expect(a.proposeConfigChange([{ type: "addLearner", node: "d" }])).toMatchObject({
      ok: false,
      reason: "transferring",
    });
    h.stabilize();
    // TimeoutNow went out only after c acknowledged the leader's last index.
    const timeoutAt = h.sent.findIndex((m) => m.type === "timeoutNow");
    expect(timeoutAt).toBeGreaterThan(-1);
    const caughtUp = h.sent.findIndex(
      (m) =>
        m.type === "appendResp" && m.from === "c" && !m.reject && (m as AppendResponse).index === 6,
    );
    expect(caughtUp).toBeGreaterThan(-1);
    expect(caughtUp).toBeLessThan(timeoutAt);
    expect(c.status().role).toBe("leader");
    expect(c.status().term).toBe(2);
    expect(c.log.entry(6)).toBeDefined();
    h.tickAndStabilize(1);
    expect(sameLogs([a, h.node("b"), c])).toBeNull();
  });

  test("transfer - abandoned after an election timeout when the target is dead", () => {
    const h = electedCluster();
    const a = h.node("a");
    h.isolate("c");
    expect(a.transferLeadership("c").ok).toBe(true);
    h.tickAndStabilize(ET - 1, ["a", "b"]);
    expect(a.status().leadTransferee).toBe("c");
    expect(h.propose("a", "x")).toMatchObject({ ok: false, reason: "transferring" });
    h.tickAndStabilize(1, ["a", "b"]);
    expect(a.status().leadTransferee).toBeNull();
    expect(a.status().role).toBe("leader");
    expect(a.status().term).toBe(1);
    expect(h.propose("a", "x").ok).toBe(true);
  });

  test("transfer - refused by a follower, and for a learner or unknown target (config-invalid)", () => {
    const h = electedCluster();
    const a = h.node("a");
    expect(h.node("b").transferLeadership("c")).toEqual({
      ok: false,
      reason: "not-leader",
      leader: "a",
    });
    expect(a.transferLeadership("zz")).toMatchObject({ ok: false, reason: "config-invalid" });
    h.add("d");
    h.changeConfig("a", [{ type: "addLearner", node: "d" }]);
    h.tickAndStabilize(2);
    expect(a.transferLeadership("d")).toMatchObject({ ok: false, reason: "config-invalid" });
    expect(a.status().leadTransferee).toBeNull();
    // To itself: nothing to do.
    expect(a.transferLeadership("a")).toMatchObject({ ok: true });
    expect(a.status().leadTransferee).toBeNull();
  });

  test("transfer - TimeoutNow at a stale term is ignored", () => {
    const h = electedCluster();
    const b = h.node("b");
    b.step({ type: "timeoutNow", group: 1, from: "x", to: "b", term: 0 });
    h.processAll();
    expect(b.status().role).toBe("follower");
    expect(b.status().term).toBe(1);
  });

  test("transfer - the old leader rejoins as a follower and the new leader commits", () => {
    const h = electedCluster();
    h.node("a").transferLeadership("b");
    h.stabilize();
    const b = h.node("b");
    expect(h.propose("b", "after-transfer").ok).toBe(true);
    h.tickAndStabilize(2);
    for (const id of h.ids) {
      expect(h.node(id).status().commitIndex, id).toBe(b.log.lastIndex());
      expect(h.node(id).status().leader, id).toBe("b");
    }
    expect(h.pending(is("timeoutNow"))).toEqual([]);
  });
});
