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

describe("client - a watch on a node that hangs", () => {
  it("client - a watch whose node is SIGSTOPped leaves it after an unanswered ping and delivers what was written meanwhile, once each", async () => {
    cluster = await TestCluster.start(3);
    const leader = await cluster.waitForLeader();
    const follower = cluster.nodes.find((n) => n.name !== leader)!.name;
    const others = cluster.nodes.filter((n) => n.name !== follower).map((n) => n.name);
    const watcher = cluster.client([follower, ...others], { watchKeepAliveMs: 300 });
    const writer = cluster.client(others);
    const stream = watcher.watch({ prefix: "w/" });
    const seen: string[] = [];
    const reading = (async () => {
      for await (const event of stream) {
        seen.push(event.kv.value);
        if (seen.length === 4) break;
      }
    })();
    await writer.put("w/1", "1");
    for (let k = 0; k < 100 && seen.length < 1; k++) await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual(["1"]);
    // A live node answers the pings: the watch stays where it is.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(stream.resumes).toBe(0);
    await cluster.kill(follower, "SIGSTOP");
    stopped = follower;
    for (const value of ["2", "3", "4"]) await writer.put(`w/${value}`, value);
    await reading;
    expect(seen).toEqual(["1", "2", "3", "4"]);
    expect(stream.resumes).toBeGreaterThanOrEqual(1);
  });
});
