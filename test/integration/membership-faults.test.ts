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

async function waitForExit(
  c: TestCluster,
  name: string,
  timeoutMs = 20_000,
): Promise<number | null> {
  const node = c.node(name);
  const exited = await Promise.race([
    node.exited.then(() => true),
    sleep(timeoutMs).then(() => false),
  ]);
  if (!exited || node.process !== null)
    throw new Error(`${name} still runs ${timeoutMs} ms after its removal\n${c.tail()}`);
  return node.exitCode;
}

/** The survivors no longer list `name`: not in /health's peers, not in /metrics. */
async function expectForgotten(c: TestCluster, name: string, survivors: readonly string[]) {
  for (const survivor of survivors) {
    const health = await c.waitForHealth(
      survivor,
      (h) => !(h.peers as { name: string }[]).some((p) => p.name === name),
    );
    expect((health.members as { voters: string[] }).voters).not.toContain(name);
    const metrics = await (await fetch(`http://${c.node(survivor).client}/metrics`)).text();
    expect(metrics).not.toContain(`peer="${name}"`);
  }
}

async function addFourth(c: TestCluster): Promise<void> {
  const admin = c.client(["n1", "n2", "n3"], { requestTimeoutMs: 60_000 });
  const n4 = await c.join("n4");
  await admin.memberAdd({ name: "n4", peer: n4.peer, client: n4.client });
  await waitForMembers(c, (list) => list.filter((m) => m.voter).length === 4, ["n1", "n2", "n3"]);
}

describe("membership faults - a removed member stops serving and exits", () => {
  it("a removed follower logs why, exits 0, and the others forget its link and series", async () => {
    cluster = await TestCluster.start(3);
    await addFourth(cluster);
    const admin = cluster.client(["n1", "n2", "n3"], { requestTimeoutMs: 60_000 });
    await admin.memberRemove("n4");
    expect(await waitForExit(cluster, "n4")).toBe(0);
    expect(cluster.node("n4").output).toContain("permanently removed from the cluster");
    await expectForgotten(cluster, "n4", ["n1", "n2", "n3"]);
    expect((await admin.put("after", "removal")).index).toBeGreaterThan(0);
  });

  it("a member removed while it was down learns it from the leader when it comes back", async () => {
    cluster = await TestCluster.start(3);
    await addFourth(cluster);
    await cluster.kill("n4");
    const admin = cluster.client(["n1", "n2", "n3"], { requestTimeoutMs: 60_000 });
    await admin.memberRemove("n4");
    await expectForgotten(cluster, "n4", ["n1", "n2", "n3"]);
    cluster.restart("n4");
    expect(await waitForExit(cluster, "n4")).toBe(0);
    expect(cluster.node("n4").output).toContain("permanently removed from the cluster");
  });

  it("a removed leader exits once it has committed its removal", async () => {
    cluster = await TestCluster.start(3);
    const leader = await cluster.waitForLeader();
    const rest = cluster.nodes.map((n) => n.name).filter((n) => n !== leader);
    const admin = cluster.client([leader], { requestTimeoutMs: 60_000, maxAttempts: 1 });
    await admin.memberRemove(leader);
    expect(await waitForExit(cluster, leader)).toBe(0);
    await cluster.waitForLeader(15_000, rest);
    await expectForgotten(cluster, leader, rest);
  });
});
