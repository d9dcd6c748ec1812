import { Agent, request } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { TestCluster } from "./harness.js";

let cluster: TestCluster | null = null;
/** One keep-alive connection per node: a HEAD answer with a body would break the next answer. */
let agent: Agent | null = null;

afterEach(async () => {
  agent?.destroy();
  agent = null;
  await cluster?.stop();
  cluster = null;
});

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly contentType: string | undefined;
}

/** One request with Node's own HTTP client (its parser is the strict one a probe meets). */
function call(method: "GET" | "HEAD", address: string, path: string): Promise<Answer> {
  const [host, port] = [address.slice(0, address.lastIndexOf(":")), address.split(":").pop()];
  return new Promise((resolve, reject) => {
    const req = request(
      { host, port: Number(port), path, method, agent: agent!, timeout: 5_000 },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () =>
          resolve({ status: res.statusCode!, body, contentType: res.headers["content-type"] }),
        );
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer within 5 s`)));
    req.on("error", reject);
    req.end();
  });
}

/** Wait (with a deadline) until `path` on `address` answers `status` to GET. */
async function waitForStatus(address: string, path: string, status: number): Promise<Answer> {
  const deadline = Date.now() + 15_000;
  let last: Answer | Error | null = null;
  while (Date.now() < deadline) {
    try {
      last = await call("GET", address, path);
      if (last.status === status) return last;
    } catch (error) {
      last = error as Error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(
    `${path} on ${address} did not answer ${status} in time: ${last instanceof Error ? last.message : JSON.stringify(last)}`,
  );
}

const probes = ["/livez", "/readyz", "/health"] as const;

describe("probes - /livez, /readyz, /health (CONTRACT §7)", () => {
  it("probes - ready while a member has a leader; /readyz and /health 503 once it has none", async () => {
    cluster = await TestCluster.start(3);
    agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const leader = await cluster.waitForLeader();
    const survivor = ["n1", "n2", "n3"].find((name) => name !== leader)!;
    const address = cluster.node(survivor).client;
    // A follower learns the commit index from the next heartbeat: wait until it is ready.
    await waitForStatus(address, "/readyz", 200);

    for (const path of probes) {
      const get = await call("GET", address, path);
      expect(get.status, `GET ${path}`).toBe(200);
      expect(get.contentType, `GET ${path}`).toBe("application/json");
      // HEAD: the status and no body; the same connection then parses the next answer.
      const head = await call("HEAD", address, path);
      expect(head.status, `HEAD ${path}`).toBe(200);
      expect(head.body, `HEAD ${path}`).toBe("");
    }
    // An unknown path: 404, and a HEAD of it has no body either (the connection lives on).
    const missing = await call("HEAD", address, "/no-such-page");
    expect(missing.status).toBe(404);
    expect(missing.body).toBe("");
    expect(JSON.parse((await call("GET", address, "/readyz")).body)).toEqual({ ready: true });
    expect(JSON.parse((await call("GET", address, "/livez")).body)).toEqual({ live: true });
    const health = JSON.parse((await call("GET", address, "/health")).body);
    expect(health).toMatchObject({ name: survivor, leader, ready: true });
    expect(health).not.toHaveProperty("reason");

    // Two of three gone: the survivor's leader (if it was one) is lost to check-quorum or its
    // election timeout, and no election can win.
    await Promise.all(
      ["n1", "n2", "n3"].filter((name) => name !== survivor).map((name) => cluster!.kill(name)),
    );
    const readyz = await waitForStatus(address, "/readyz", 503);
    expect(readyz.contentType).toBe("application/json");
    expect(JSON.parse(readyz.body)).toEqual({ ready: false, reason: "no known leader" });

    const notReady = await call("GET", address, "/health");
    expect(notReady.status).toBe(503);
    const body = JSON.parse(notReady.body);
    expect(body).toMatchObject({ name: survivor, leader: null, ready: false });
    expect(body.reason).toBe("no known leader");
    // Still the full picture: stages, peers and members, as when ready.
    for (const key of ["stages", "peers", "members", "lastIndex"]) expect(body).toHaveProperty(key);

    const live = await call("GET", address, "/livez");
    expect(live.status).toBe(200);
    expect(JSON.parse(live.body)).toEqual({ live: true });

    for (const [path, status] of [
      ["/readyz", 503],
      ["/health", 503],
      ["/livez", 200],
    ] as const) {
      const head = await call("HEAD", address, path);
      expect(head.status, `HEAD ${path}`).toBe(status);
      expect(head.body, `HEAD ${path}`).toBe("");
    }
    // The connection survived every HEAD: one more GET on it parses.
    expect((await call("GET", address, "/livez")).status).toBe(200);
  });

  it("probes - open under auth.protectHttp; /health without a token keeps the probe fields", async () => {
    cluster = await TestCluster.start(1, {
      auth: { clientToken: "c-secret", protectHttp: true },
    });
    agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const address = cluster.node("n1").client;
    await waitForStatus(address, "/readyz", 200);
    for (const path of probes) {
      expect((await call("GET", address, path)).status, `GET ${path}`).toBe(200);
      const head = await call("HEAD", address, path);
      expect(head.status, `HEAD ${path}`).toBe(200);
      expect(head.body, `HEAD ${path}`).toBe("");
    }
    expect(Object.keys(JSON.parse((await call("GET", address, "/health")).body)).sort()).toEqual(
      ["appliedIndex", "commitIndex", "leader", "name", "role", "term"].sort(),
    );
    expect((await call("GET", address, "/metrics")).status).toBe(401);
  });
});
