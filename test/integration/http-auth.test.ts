import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { ConfigError, loadConfig } from "../../src/config.js";
import { TestCluster } from "./harness.js";

const clientToken = "c-secret";
const adminToken = "a-secret";

let cluster: TestCluster | null = null;

afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

async function get(
  url: string,
  token?: string,
): Promise<{ status: number; body: string; challenge: string | null }> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(5_000) });
  return {
    status: response.status,
    body: await response.text(),
    challenge: response.headers.get("www-authenticate"),
  };
}

describe("http auth - auth.protectHttp", () => {
  it("http auth - /metrics and /dashboard need a token; /health stays open", async () => {
    cluster = await TestCluster.start(1, {
      auth: { clientToken, adminToken, protectHttp: true },
    });
    const base = `http://${cluster.node("n1").client}`;

    for (const path of [
      "/metrics",
      "/dashboard",
      "/dashboard/assets/uplot.min.js",
      "/dashboard/history",
    ]) {
      const refused = await get(`${base}${path}`);
      expect(refused.status, path).toBe(401);
      expect(refused.challenge, path).toMatch(/^Bearer/);
      expect((await get(`${base}${path}`, "wrong")).status, path).toBe(401);
      expect((await get(`${base}${path}`, clientToken)).status, path).toBe(200);
      expect((await get(`${base}${path}`, adminToken)).status, path).toBe(200);
    }
    expect((await get(`${base}/metrics`, clientToken)).body).toContain("stageraft_");
    // /health stays open for probes, but without a token it answers the probe fields only:
    // per-stage metrics, peer addresses and members are for token holders.
    const probe = await get(`${base}/health`);
    expect(probe.status).toBe(200);
    expect(Object.keys(JSON.parse(probe.body)).sort()).toEqual(
      ["appliedIndex", "commitIndex", "leader", "name", "role", "term"].sort(),
    );
    expect(JSON.parse(probe.body).name).toBe("n1");
    for (const token of ["wrong", undefined]) {
      const body = JSON.parse((await get(`${base}/health`, token)).body);
      expect(body.stages, `token ${token}`).toBeUndefined();
    }
    for (const token of [clientToken, adminToken]) {
      const full = await get(`${base}/health`, token);
      expect(full.status).toBe(200);
      const body = JSON.parse(full.body);
      expect(body.name).toBe("n1");
      for (const key of ["stages", "peers", "members", "lastIndex"])
        expect(body).toHaveProperty(key);
    }

    // A browser cannot set a header: the page takes ?token= and passes it on to its assets
    // (and its live feed, which takes ?token= as /v1 does).
    const page = await get(`${base}/dashboard?token=${clientToken}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain(`/dashboard/assets/uplot.min.js?token=${clientToken}`);
    expect(page.body).toContain(`/dashboard/assets/uplot.min.css?token=${clientToken}`);
    expect((await get(`${base}/dashboard/assets/uplot.min.js?token=${clientToken}`)).status).toBe(
      200,
    );
    expect((await get(`${base}/dashboard?token=wrong`)).status).toBe(401);
    // The page reads its history with the same ?token=.
    expect((await get(`${base}/dashboard/history?token=${clientToken}`)).status).toBe(200);
    expect((await get(`${base}/dashboard/history?token=wrong`)).status).toBe(401);
    // /metrics is for scrapers: a Bearer header only, no token in URLs (and their logs).
    expect((await get(`${base}/metrics?token=${clientToken}`)).status).toBe(401);
  });

  it("http auth - with only an admin token, protectHttp guards the pages and the live feed", async () => {
    cluster = await TestCluster.start(1, { auth: { adminToken, protectHttp: true } });
    const address = cluster.node("n1").client;
    const base = `http://${address}`;
    expect((await get(`${base}/metrics`)).status).toBe(401);
    expect((await get(`${base}/metrics`, adminToken)).status).toBe(200);
    expect((await get(`${base}/dashboard?token=${adminToken}`)).status).toBe(200);
    const live = (query: string) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(`ws://${address}/dashboard/live${query}`);
        ws.once("open", () => {
          ws.terminate();
          resolve("open");
        });
        ws.once("unexpected-response", (_req, res) => resolve(String(res.statusCode)));
        ws.once("error", () => resolve("error"));
      });
    expect(await live("")).toBe("401");
    expect(await live(`?token=${adminToken}`)).toBe("open");
    // /v1 stays as auth.* says: open to clients without a token when no client token is set.
    expect((await cluster.client(["n1"]).status()).name).toBe("n1");
  });

  it("http auth - without protectHttp the HTTP pages stay open as before", async () => {
    cluster = await TestCluster.start(1, { auth: { clientToken } });
    const base = `http://${cluster.node("n1").client}`;
    expect((await get(`${base}/metrics`)).status).toBe(200);
    expect((await get(`${base}/dashboard`)).status).toBe(200);
    const health = await get(`${base}/health`);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toHaveProperty("stages");
  });

  it("http auth - protectHttp without a client or admin token is refused at load", () => {
    const flags = {
      name: "n1",
      dataDir: "/tmp/unused",
      listenClient: "127.0.0.1:1",
      listenPeer: "127.0.0.1:2",
      initialCluster: "n1=127.0.0.1:2",
    };
    const load = (auth: Record<string, unknown>) => () => loadConfig({ ...flags, auth });
    expect(load({ protectHttp: true })).toThrow(ConfigError);
    expect(load({ protectHttp: true })).toThrow(/auth\.protectHttp/);
    expect(load({ protectHttp: true, peerToken: "p" })).toThrow(/auth\.protectHttp/);
    expect(load({ protectHttp: "yes" })).toThrow(/auth\.protectHttp/);
    expect(loadConfig({ ...flags, auth: { protectHttp: true, adminToken } }).auth.protectHttp).toBe(
      true,
    );
    expect(loadConfig(flags).auth.protectHttp).toBe(false);
  });
});
