import { afterEach, describe, expect, it } from "vitest";
import type { StageraftClient } from "../../src/mod.js";
import { fastRaft, TestCluster } from "./harness.js";

/**
 * Keep-alives batched on the leader (docs/leases.md): many concurrent keep-alives, sent to
 * the leader and through followers, are each answered with their own lease's ttl (or
 * NOT_FOUND for a revoked lease), and take fewer log entries than there are keep-alives.
 */

let cluster: TestCluster | null = null;

afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

async function commitIndex(db: StageraftClient): Promise<number> {
  return (await db.status()).commitIndex;
}

describe("leases - batched keep-alives", () => {
  it("leases - 400 concurrent keep-alives get their own answers and take fewer entries than keep-alives", async () => {
    cluster = await TestCluster.start(3, { raft: fastRaft });
    const db = cluster.client();
    // Every node's own client: a follower forwards its keep-alives to the leader.
    const perNode = cluster.nodes.map((node) => cluster!.client([node.name]));
    const leases: { id: string; ttl: number }[] = [];
    for (let k = 0; k < 100; k++) {
      const ttl = 100 + (k % 7); // each lease's own ttl: a mixed-up answer shows
      leases.push({ id: (await db.leases.grant(ttl)).lease, ttl });
    }
    const revoked = new Set(leases.filter((_, k) => k % 10 === 3).map((lease) => lease.id));
    for (const id of revoked) await db.leases.revoke(id);

    // The leader's commit index: every proposal lands there, and an answered write is in it.
    const leader = (await db.status()).leader!;
    const onLeader = cluster.client([leader]);
    const before = await commitIndex(onLeader);
    const sent: { id: string; ttl: number; answer: Promise<unknown> }[] = [];
    for (let round = 0; round < 2; round++)
      for (const [k, lease] of leases.entries())
        for (const client of [perNode[k % perNode.length]!, db])
          sent.push({
            ...lease,
            answer: client.leases.keepAlive(lease.id).then(
              (reply) => reply,
              (error: unknown) => error,
            ),
          });
    expect(sent).toHaveLength(400);
    for (const { id, ttl, answer } of sent) {
      const reply = await answer;
      if (revoked.has(id)) expect(reply, `lease ${id}`).toMatchObject({ code: "NOT_FOUND" });
      else expect(reply, `lease ${id}`).toEqual({ ttl });
    }
    const grew = (await commitIndex(onLeader)) - before;
    // Nothing else writes: the log grew only by keepalives entries (a leader's expiry check
    // proposes nothing, every lease being far from its deadline).
    expect(grew).toBeGreaterThan(0);
    expect(grew).toBeLessThan(sent.length);
    // A keep-alive in a session stays exactly-once (its own entry, recorded): a retry after
    // the lease was revoked gets the first answer, not NOT_FOUND.
    const kept = leases.find((lease) => !revoked.has(lease.id))!;
    const inSession = { op: "lease-keepalive", lease: kept.id, session: "ka", seq: 1 };
    expect(await db.request(inSession)).toEqual({ ttl: kept.ttl });
    await db.leases.revoke(kept.id);
    revoked.add(kept.id);
    expect(await db.request(inSession)).toEqual({ ttl: kept.ttl });
    await expect(db.leases.keepAlive(kept.id)).rejects.toMatchObject({ code: "NOT_FOUND" });
    // The renewals reached the replicated table: every surviving lease is still listed.
    expect(new Set(await db.leases.list())).toEqual(
      new Set(leases.map((lease) => lease.id).filter((id) => !revoked.has(id))),
    );
  });
});
