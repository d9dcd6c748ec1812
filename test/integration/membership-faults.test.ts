import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { MemberInfo, StageraftError } from "../../src/mod.js";
import { freePort, type NodeProcess, sleep, TestCluster } from "./harness.js";

/**
 * Operators' mistakes around membership (issue #10): etcd's order (member-add before the node
 * starts, through any node), changes back to back, promotion of a learner, and a removed
 * member that must stop serving.
 */

let cluster: TestCluster | null = null;

afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

/** A node with ports and a data dir, not started yet (etcd's order: member add first). */
async function reserve(c: TestCluster, name: string): Promise<NodeProcess> {
  const node: NodeProcess = {
    name,
    client: `127.0.0.1:${await freePort()}`,
    peer: `127.0.0.1:${await freePort()}`,
    dataDir: join(c.root, name),
    process: null,
    output: "",
    exitCode: null,
    exited: Promise.resolve(null),
  };
  c.nodes.push(node);
  return node;
}

async function waitForMembers(
  c: TestCluster,
  predicate: (members: readonly MemberInfo[]) => boolean,
  among: readonly string[],
  timeoutMs = 20_000,
): Promise<MemberInfo[]> {
  const deadline = Date.now() + timeoutMs;
  let last: MemberInfo[] = [];
  while (Date.now() < deadline) {
    last = await c
      .client(among, { maxAttempts: 1 })
      .members()
      .catch(() => []);
    if (predicate(last)) return last;
    await sleep(100);
  }
  throw new Error(`members never matched: ${JSON.stringify(last)}\n${c.tail()}`);
}

async function follower(c: TestCluster): Promise<string> {
  const leader = await c.waitForLeader();
  return c.nodes.find((n) => n.process !== null && n.name !== leader)!.name;
}

describe("membership faults - etcd's order and changes back to back", () => {
  it("member-add through a follower answers before the node starts; it is promoted alone", async () => {
    cluster = await TestCluster.start(3);
    const via = await follower(cluster);
    const admin = cluster.client([via], { requestTimeoutMs: 60_000, maxAttempts: 1 });
    await admin.put("before", "n4");
    const n4 = await reserve(cluster, "n4");
    // The node is not started: the answer must not wait for it to catch up.
    const members = await admin.memberAdd({ name: "n4", peer: n4.peer, client: n4.client });
    expect(members.find((m) => m.name === "n4")).toMatchObject({
      voter: false,
      peer: n4.peer,
      client: n4.client,
    });
    cluster.spawn(n4, ["--initial-cluster-state", "existing"]);
    // No further request: the leader promotes it once it has caught up.
    await waitForMembers(cluster, (list) => list.find((m) => m.name === "n4")?.voter === true, [
      "n1",
      "n2",
      "n3",
    ]);
    await cluster.waitForHealth("n4", (h) => h.role === "follower");
    expect((await cluster.client(["n4"]).get("before")).value).toBe("n4");
  });

  it.each(["leader", "follower"])(
    "member-remove (the %s) then member-add at once: no CONFLICT",
    async (which) => {
      cluster = await TestCluster.start(4);
      const leader = await cluster.waitForLeader();
      const victim = which === "leader" ? leader : await follower(cluster);
      const rest = cluster.nodes.map((n) => n.name).filter((n) => n !== victim);
      const admin = cluster.client(rest, { requestTimeoutMs: 60_000 });
      const after = await admin.memberRemove(victim);
      expect(after.map((m) => m.name).sort()).toEqual(rest.sort());
      // Not started: its addition commits all the same.
      const added = await admin.memberAdd({
        name: "n9",
        peer: "127.0.0.1:9",
        client: "127.0.0.1:9",
      });
      expect(added.find((m) => m.name === "n9")?.voter).toBe(false);
      // A pending automatic promotion (n9 never catches up) is no change in flight either.
      const more = await admin.memberAdd({
        name: "n8",
        peer: "127.0.0.1:8",
        client: "127.0.0.1:8",
        voter: false,
      });
      expect(more.map((m) => m.name)).toContain("n8");
    },
  );

  it("member-promote makes a caught-up learner a voter; a learner stays one without it", async () => {
    cluster = await TestCluster.start(3);
    const admin = cluster.client(["n1", "n2", "n3"], { requestTimeoutMs: 60_000 });
    const n4 = await cluster.join("n4");
    const added = await admin.memberAdd({
      name: "n4",
      peer: n4.peer,
      client: n4.client,
      voter: false,
    });
    expect(added.find((m) => m.name === "n4")?.voter).toBe(false);
    const last = await admin.put("k", "v");
    await cluster.waitForHealth("n4", (h) => Number(h.appliedIndex) >= last.index);
    expect((await admin.members()).find((m) => m.name === "n4")?.voter).toBe(false);
    const promoted = await admin.memberPromote("n4");
    expect(promoted.find((m) => m.name === "n4")?.voter).toBe(true);
    const error = await admin.memberPromote("n4").catch((e: unknown) => e);
    expect((error as StageraftError).code).toBe("BAD_REQUEST");
  });
});
