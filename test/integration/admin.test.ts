import { afterEach, describe, expect, it } from "vitest";
import { StageraftError } from "../../src/mod.js";
import { fastRaft, TestCluster } from "./harness.js";

let cluster: TestCluster | null = null;

afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StageraftError);
  return (error as StageraftError).code;
}

describe("admin - membership, transfer and snapshots over the protocol", () => {
  it.each([
    ["inline", {}],
    ["workers", { stages: { raftStep: { pool: "workers" }, apply: { pool: "workers" } } }],
  ])(
    "admin - a new node joins as a learner, is promoted, serves reads, and is removed again (%s pools)",
    async (_pools, stages) => {
      cluster = await TestCluster.start(3, {
        raft: { ...fastRaft, snapshotEvery: 30, snapshotRetainEntries: 5 },
        ...stages,
      });
      const client = cluster.client(["n1", "n2", "n3"]);
      for (let k = 0; k < 80; k++) await client.put(`m${k}`, `${k}`);
      const n4 = await cluster.join("n4");
      const members = await client.memberAdd({ name: "n4", peer: n4.peer, client: n4.client });
      // Answered once n4 is in as a learner; the leader promotes it once it has caught up.
      expect(members.find((m) => m.name === "n4")).toMatchObject({
        peer: n4.peer,
        client: n4.client,
      });
      for (;;) {
        const view = await client.members();
        if (view.filter((m) => m.voter).length === 4) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const last = await client.put("after-join", "yes");
      await cluster.waitForHealth("n4", (h) => Number(h.appliedIndex) >= last.index);
      const reader = cluster.client(["n4"]);
      expect((await reader.get("m0", { consistency: "stale" })).value).toBe("0");
      expect((await reader.get("after-join")).value).toBe("yes");
      // Every node reports the same membership, with n4's addresses.
      for (const name of ["n1", "n2", "n3", "n4"]) {
        const view = await cluster.client([name]).members();
        expect(view.map((m) => m.name).sort(), name).toEqual(["n1", "n2", "n3", "n4"]);
      }
      const after = await client.memberRemove("n4");
      expect(after.map((m) => m.name).sort()).toEqual(["n1", "n2", "n3"]);
      expect((await client.put("after-remove", "ok")).index).toBeGreaterThan(last.index);
    },
  );

  it("admin - a node added with voter false reports the role learner", async () => {
    cluster = await TestCluster.start(3);
    const client = cluster.client(["n1", "n2", "n3"]);
    const n4 = await cluster.join("n4");
    const members = await client.memberAdd({
      name: "n4",
      peer: n4.peer,
      client: n4.client,
      voter: false,
    });
    expect(members.find((m) => m.name === "n4")?.voter).toBe(false);
    await cluster.waitForHealth("n4", (h) => h.role === "learner");
    expect((await cluster.client(["n4"]).status()).role).toBe("learner");
  });

  it("admin - a second membership change while one is in flight gets CONFLICT", async () => {
    cluster = await TestCluster.start(3);
    const client = cluster.client([await cluster.waitForLeader()]);
    await client.put("warm", "up");
    // Pipelined on one connection: the second reaches the leader while the first commits.
    const codes = await Promise.all(
      ["n9", "n8"].map((name) =>
        client.memberAdd({ name, peer: "127.0.0.1:9", client: "127.0.0.1:9", voter: false }).then(
          () => "ok",
          (e: unknown) => (e as StageraftError).code,
        ),
      ),
    );
    expect(codes.sort()).toEqual(["CONFLICT", "ok"]);
  });

  it("admin - transfer-leader moves leadership to the named node", async () => {
    cluster = await TestCluster.start(3);
    const leader = await cluster.waitForLeader();
    const target = cluster.nodes.find((n) => n.name !== leader)!.name;
    const client = cluster.client();
    await client.put("before", "transfer");
    expect((await client.transferLeader(target)).leader).toBe(target);
    expect(await cluster.waitForLeader()).toBe(target);
    expect((await client.get("before")).value).toBe("transfer");
    expect(await codeOf(client.transferLeader("nobody"))).toBe("BAD_REQUEST");
  });

  it("admin - the snapshot op snapshots the node it reaches and reports the index", async () => {
    cluster = await TestCluster.start(1);
    const client = cluster.client();
    let last = 0;
    for (let k = 0; k < 10; k++) last = (await client.put(`s${k}`, "v")).index;
    const { index } = await client.snapshot();
    expect(index).toBeGreaterThanOrEqual(last);
    await cluster.waitForOutput("n1", "snapshot taken");
  });
});

describe("admin - auth", () => {
  const auth = {
    clientToken: "client-secret",
    adminToken: "admin-secret",
    peerToken: "peer-secret",
  };

  it("auth - without a token the upgrade is refused; the client token cannot use admin ops", async () => {
    cluster = await TestCluster.start(3, { raft: fastRaft, auth });
    expect(await codeOf(cluster.client(["n1"], { maxAttempts: 1 }).status())).toBe("UNAUTHORIZED");
    expect(await codeOf(cluster.client(["n1"], { maxAttempts: 1, token: "wrong" }).status())).toBe(
      "UNAUTHORIZED",
    );
    const user = cluster.client(["n1", "n2", "n3"], { token: "client-secret" });
    expect((await user.put("a", "1")).index).toBeGreaterThan(0);
    expect(await codeOf(user.snapshot())).toBe("UNAUTHORIZED");
    expect(await codeOf(user.transferLeader("n2"))).toBe("UNAUTHORIZED");
    expect(await codeOf(user.memberRemove("n3"))).toBe("UNAUTHORIZED");
    const admin = cluster.client(["n1", "n2", "n3"], { token: "admin-secret" });
    expect((await admin.get("a")).value).toBe("1");
    expect((await admin.snapshot()).index).toBeGreaterThan(0);
    // The token may also come in the URL.
    const response = await fetch(`http://${cluster.node("n1").client}/health`);
    expect(response.status).toBe(200);
  });

  it("auth - a peer with a wrong peer token is refused", async () => {
    cluster = await TestCluster.start(3, { raft: fastRaft, auth });
    const { createConnection } = await import("node:net");
    const [host, port] = cluster.node("n1").peer.split(":");
    const closed = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: host!, port: Number(port) }, () => {
        const hello = Buffer.from(
          JSON.stringify({ name: "intruder", clientAddress: "x:1", token: "nope" }),
        );
        const frame = Buffer.alloc(5 + hello.length);
        frame.writeUInt32BE(1 + hello.length, 0);
        frame[4] = 1;
        hello.copy(frame, 5);
        socket.write(frame);
      });
      socket.on("close", () => resolve(true));
      setTimeout(() => {
        socket.destroy();
        resolve(false);
      }, 3_000);
    });
    expect(closed).toBe(true);
    await cluster.waitForHealth("n1", () => true);
    await cluster.waitForOutput("n1", "wrong peer token");
  });
});
