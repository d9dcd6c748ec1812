import { afterEach, describe, expect, it } from "vitest";
import { TestCluster } from "./harness.js";

/**
 * A node that stops answering without closing its socket (SIGSTOP, a long pause, a dead
 * route): the client's request times out, and the client must not stay on that node — the
 * TCP connection never breaks, so nothing else would ever move it.
 */

let cluster: TestCluster | null = null;
let stopped: string | null = null;

afterEach(async () => {
  if (stopped !== null) await cluster?.kill(stopped, "SIGCONT");
  stopped = null;
  await cluster?.stop();
  cluster = null;
});

describe("client - a node that hangs", () => {
  it("client - after a TIMEOUT on a hung node the next requests go to another node and succeed", async () => {
    cluster = await TestCluster.start(3);
    const leader = await cluster.waitForLeader();
    const follower = cluster.nodes.find((n) => n.name !== leader)!.name;
    const others = cluster.nodes.filter((n) => n.name !== follower).map((n) => n.name);
    // The hung node first: the client connects there.
    const db = cluster.client([follower, ...others], { requestTimeoutMs: 1_000 });
    await db.put("k", "1");
    await cluster.kill(follower, "SIGSTOP");
    stopped = follower;
    await expect(db.get("k")).rejects.toMatchObject({ code: "TIMEOUT" });
    await db.put("k", "2");
    expect((await db.get("k")).value).toBe("2");
  });
});
