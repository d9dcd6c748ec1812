import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { bottleneckOf, healthUrl, RateMeter, type StageRow } from "../../src/dashboard/observer.js";
import { TestCluster } from "../integration/harness.js";
import { parseExposition, sampleValue, series } from "./prom.js";

const stages = ["ingress", "raft-step", "wal-append", "replicate", "apply", "respond"];
const queueStages = stages.slice(1);
const auth = { clientToken: "client-secret", adminToken: "admin-secret" };

let cluster: TestCluster;
let leader: string;

beforeAll(async () => {
  cluster = await TestCluster.start(3, { auth });
  leader = await cluster.waitForLeader();
  const client = cluster.client(["n1", "n2", "n3"], { token: auth.clientToken });
  for (let k = 0; k < 40; k++) await client.put(`m${k}`, `value ${k}`);
});

afterAll(async () => {
  await cluster?.stop();
});

async function scrape(name: string): Promise<{ text: string; type: string | null }> {
  const response = await fetch(`http://${cluster.node(name).client}/metrics`);
  expect(response.status).toBe(200);
  return { text: await response.text(), type: response.headers.get("content-type") };
}

/**
 * Read `what` from the leader as it is when read: a loaded machine can move leadership between
 * beforeAll and a test, so the leader is found again, and the read retried if it moved meanwhile.
 */
async function fromLeader<T>(
  what: (name: string) => Promise<T>,
  isLeader: (read: T) => boolean,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    leader = await cluster.waitForLeader();
    const read = await what(leader);
    if (isLeader(read) || attempt === 5) return read;
  }
}

/** The first picture /dashboard/live sends, or the HTTP status that refused the upgrade. */
function live(
  name: string,
  query = "",
  headers: Record<string, string> = {},
): Promise<{ status: number; snapshot?: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${cluster.node(name).client}/dashboard/live${query}`, {
      headers,
    });
    const timer = setTimeout(() => reject(new Error("no snapshot within 5 s")), 5_000);
    ws.once("unexpected-response", (_req, res) => {
      clearTimeout(timer);
      resolve({ status: res.statusCode ?? 0 });
      ws.terminate();
    });
    ws.once("message", (data) => {
      clearTimeout(timer);
      ws.close();
      resolve({ status: 101, snapshot: JSON.parse(data.toString()) as Record<string, unknown> });
    });
    ws.once("error", (error) => {
      if (ws.readyState !== WebSocket.CLOSED) return;
      clearTimeout(timer);
      reject(error);
    });
  });
}

describe("metrics - /metrics from prom-client", () => {
  it("metrics - every stage carries a stage label, with the conventional names and types", async () => {
    const { text, type } = await scrape(leader);
    expect(type).toContain("text/plain");
    const metrics = parseExposition(text);
    const expectStages = (name: string, names: string[], labels: Record<string, string> = {}) => {
      const found = series(metrics, name, labels).map((s) => s.labels.stage);
      expect(found.sort(), name).toEqual([...names].sort());
      for (const sample of series(metrics, name, labels)) {
        expect(sample.labels.node, name).toBe(leader);
        expect(Number.isFinite(sample.value), `${name} is a number`).toBe(true);
      }
    };
    for (const name of [
      "stageraft_stage_accepted_total",
      "stageraft_stage_rejected_total",
      "stageraft_stage_processed_total",
      "stageraft_stage_errors_total",
      "stageraft_stage_throughput_items_per_second",
    ])
      expectStages(name, stages);
    for (const name of [
      "stageraft_stage_queue_items",
      "stageraft_stage_queue_bytes",
      "stageraft_stage_queue_capacity_items",
      "stageraft_stage_batches_total",
      "stageraft_stage_batch_limit_items",
      "stageraft_stage_utilisation_ratio",
    ])
      expectStages(name, queueStages);
    for (const name of [
      "stageraft_stage_wait_seconds",
      "stageraft_stage_service_seconds",
      "stageraft_stage_batch_items",
    ]) {
      expectStages(name, queueStages, { quantile: "0.5" });
      expectStages(name, queueStages, { quantile: "0.99" });
    }
    // Types: counters end in _total, histograms in _duration_seconds, the rest are gauges.
    for (const [name, kind] of metrics.types) {
      if (!name.startsWith("stageraft_")) continue;
      const expected = name.endsWith("_total")
        ? "counter"
        : name.endsWith("_duration_seconds")
          ? "histogram"
          : "gauge";
      expect(kind, name).toBe(expected);
      expect(metrics.help.get(name), `${name} has help`).toBeTruthy();
    }
    // Histograms beside the quantile gauges: cumulative buckets, aggregatable across nodes.
    for (const name of [
      "stageraft_stage_wait_duration_seconds",
      "stageraft_stage_service_duration_seconds",
    ]) {
      expect(metrics.types.get(name), name).toBe("histogram");
      for (const stage of queueStages) {
        const buckets = series(metrics, `${name}_bucket`, { stage }).map((b) => b.value);
        expect(buckets.length, `${name} ${stage}`).toBeGreaterThan(5);
        // Cumulative: never falling, the last (+Inf) equal to the count.
        for (let k = 1; k < buckets.length; k++)
          expect(buckets[k]!).toBeGreaterThanOrEqual(buckets[k - 1]!);
        expect(buckets.at(-1)).toBe(sampleValue(metrics, `${name}_count`, { stage }));
      }
      expect(sampleValue(metrics, `${name}_count`, { stage: "apply" })).toBeGreaterThan(0);
    }
    expect(metrics.types.get("stageraft_client_request_duration_seconds")).toBe("histogram");
    // Live values: the writes went through every stage of the leader.
    for (const stage of ["raft-step", "wal-append", "replicate", "apply", "respond"])
      expect(
        sampleValue(metrics, "stageraft_stage_processed_total", { stage }),
        stage,
      ).toBeGreaterThan(0);
    expect(
      sampleValue(metrics, "stageraft_stage_queue_capacity_items", { stage: "apply" }),
    ).toBeGreaterThan(0);
    const utilisation = series(metrics, "stageraft_stage_utilisation_ratio");
    for (const sample of utilisation) expect(sample.value).toBeGreaterThanOrEqual(0);
    for (const sample of utilisation) expect(sample.value).toBeLessThanOrEqual(1);
    expect(sampleValue(metrics, "stageraft_client_frames_total")).toBeGreaterThanOrEqual(0);
  });

  it("metrics - Raft, WAL, engines, connections and the default process metrics", async () => {
    const metrics = await fromLeader(
      async (name) => parseExposition((await scrape(name)).text),
      (read) => sampleValue(read, "stageraft_raft_is_leader") === 1,
    );
    const health = await cluster.health(leader);
    expect(sampleValue(metrics, "stageraft_raft_is_leader")).toBe(1);
    expect(sampleValue(metrics, "stageraft_raft_term")).toBe(health?.term);
    expect(sampleValue(metrics, "stageraft_raft_commit_index")).toBeGreaterThanOrEqual(40);
    expect(sampleValue(metrics, "stageraft_raft_applied_index")).toBeGreaterThanOrEqual(40);
    expect(sampleValue(metrics, "stageraft_raft_last_index")).toBeGreaterThanOrEqual(40);
    expect(sampleValue(metrics, "stageraft_raft_leader_changes_seen_total")).toBeGreaterThanOrEqual(
      1,
    );
    expect(sampleValue(metrics, "stageraft_raft_voters")).toBe(3);
    const followers = series(metrics, "stageraft_raft_follower_match_index").map(
      (s) => s.labels.follower,
    );
    expect(followers.sort()).toEqual(["n1", "n2", "n3"].filter((n) => n !== leader));
    for (const lag of series(metrics, "stageraft_raft_follower_lag_entries"))
      expect(lag.value).toBeGreaterThanOrEqual(0);
    expect(sampleValue(metrics, "stageraft_wal_group_commits_total")).toBeGreaterThan(0);
    expect(sampleValue(metrics, "stageraft_wal_fsyncs_total")).toBeGreaterThan(0);
    expect(sampleValue(metrics, "stageraft_wal_entries_total")).toBeGreaterThanOrEqual(40);
    expect(sampleValue(metrics, "stageraft_kv_applied_index")).toBeGreaterThanOrEqual(40);
    expect(sampleValue(metrics, "stageraft_vector_collections")).toBe(0);
    expect(sampleValue(metrics, "stageraft_vector_vectors")).toBe(0);
    expect(sampleValue(metrics, "stageraft_apply_entries_total")).toBeGreaterThanOrEqual(40);
    expect(sampleValue(metrics, "stageraft_client_connections")).toBeGreaterThanOrEqual(0);
    expect(sampleValue(metrics, "stageraft_peer_frames_total")).toBeGreaterThan(0);
    expect(series(metrics, "stageraft_peer_link_up")).toHaveLength(2);
    // prom-client's defaults, with the node label too.
    expect(sampleValue(metrics, "process_cpu_seconds_total")).toBeGreaterThan(0);
    expect(sampleValue(metrics, "process_resident_memory_bytes")).toBeGreaterThan(0);
    expect(series(metrics, "nodejs_eventloop_lag_seconds")[0]?.labels.node).toBe(leader);
    // A follower: not leader, no follower progress.
    const follower = ["n1", "n2", "n3"].find((n) => n !== leader)!;
    const other = parseExposition((await scrape(follower)).text);
    expect(sampleValue(other, "stageraft_raft_is_leader")).toBe(0);
    expect(series(other, "stageraft_raft_follower_match_index")).toHaveLength(0);
    expect(sampleValue(other, "stageraft_raft_applied_index")).toBeGreaterThan(0);
  });

  it("metrics - counters read live values at every scrape", async () => {
    const before = parseExposition((await scrape(leader)).text);
    const client = cluster.client([leader], { token: auth.clientToken });
    for (let k = 0; k < 10; k++) await client.put(`again${k}`, "x");
    const after = parseExposition((await scrape(leader)).text);
    const grew = (name: string, labels: Record<string, string> = {}) =>
      sampleValue(after, name, labels) - sampleValue(before, name, labels);
    expect(grew("stageraft_stage_processed_total", { stage: "apply" })).toBeGreaterThanOrEqual(10);
    expect(grew("stageraft_stage_processed_total", { stage: "ingress" })).toBeGreaterThanOrEqual(
      10,
    );
    expect(grew("stageraft_client_frames_total")).toBeGreaterThanOrEqual(10);
    expect(grew("stageraft_raft_commit_index")).toBeGreaterThanOrEqual(10);
  });
});

describe("metrics - ops/monitoring", () => {
  it("metrics - the Grafana dashboard and the alerts use only series the nodes export", async () => {
    const exposition = parseExposition((await scrape(leader)).text);
    const exported = new Set(exposition.types.keys());
    // A histogram's samples are its name plus _bucket, _sum or _count.
    for (const [name, kind] of exposition.types)
      if (kind === "histogram")
        for (const end of ["_bucket", "_sum", "_count"]) exported.add(name + end);
    const files = ["grafana-dashboard.json", "alerts.yml"].map((file) =>
      readFileSync(new URL(`../../ops/monitoring/${file}`, import.meta.url), "utf8"),
    );
    const dashboard = JSON.parse(files[0]!) as { panels: { targets?: { expr: string }[] }[] };
    expect(dashboard.panels.length).toBeGreaterThan(10);
    const used = new Set(
      files.flatMap((text) =>
        [...text.matchAll(/\b((?:stageraft|process|nodejs)_[a-z0-9_]+)/g)].map((m) => m[1]!),
      ),
    );
    expect(used.size).toBeGreaterThan(20);
    for (const name of used) expect(exported.has(name), `${name} is exported`).toBe(true);
    // Both use the histograms (latency that aggregates across nodes), not only the gauges.
    for (const [k, text] of files.entries())
      for (const name of [
        "stageraft_stage_wait_duration_seconds_bucket",
        "stageraft_client_request_duration_seconds_bucket",
      ])
        expect(text.includes(name), `${name} in ${["dashboard", "alerts"][k]}`).toBe(true);
    expect(files[1]).toContain("stageraft_peer_messages_dropped_total");
  });
});

describe("dashboard - page, assets and the live feed", () => {
  it("dashboard - the page and its uPlot assets are served by the node", async () => {
    const base = `http://${cluster.node(leader).client}`;
    const page = await fetch(`${base}/dashboard`);
    expect(page.headers.get("content-type")).toContain("text/html");
    const html = await page.text();
    expect(html).toContain("/dashboard/live");
    expect(html).toContain("/dashboard/assets/uplot.min.js");
    const js = await fetch(`${base}/dashboard/assets/uplot.min.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toContain("javascript");
    expect(await js.text()).toContain("uPlot");
    const css = await fetch(`${base}/dashboard/assets/uplot.min.css`);
    expect(css.headers.get("content-type")).toContain("text/css");
    expect((await fetch(`${base}/dashboard/assets/nope.js`)).status).toBe(404);
  });

  it("dashboard - /dashboard/live follows the /v1 token rule", async () => {
    expect((await live(leader)).status).toBe(401);
    expect((await live(leader, "?token=wrong")).status).toBe(401);
    expect((await live(leader, `?token=${auth.clientToken}`)).status).toBe(101);
    expect((await live(leader, `?token=${auth.adminToken}`)).status).toBe(101);
    expect((await live(leader, "", { authorization: `Bearer ${auth.clientToken}` })).status).toBe(
      101,
    );
  });

  it("dashboard - the snapshot holds the six stages in path order, Raft and the cluster", async () => {
    const { snapshot } = await fromLeader(
      (name) => live(name, `?token=${auth.clientToken}`),
      (read) => (read.snapshot?.raft as { role?: string } | undefined)?.role === "leader",
    );
    const s = snapshot as {
      node: string;
      stages: { name: string; kind: string }[];
      raft: { role: string; checksum: number | null; followers: { name: string; lag: number }[] };
      cluster: { name: string; self: boolean }[];
    };
    expect(s.node).toBe(leader);
    expect(s.stages.map((row) => row.name)).toEqual(stages);
    expect(s.stages[0]!.kind).toBe("ingress");
    expect(s.raft.role).toBe("leader");
    expect(typeof s.raft.checksum).toBe("number");
    expect(s.raft.followers.map((f) => f.name).sort()).toEqual(
      ["n1", "n2", "n3"].filter((n) => n !== leader),
    );
    expect(s.cluster.map((m) => m.name).sort()).toEqual(["n1", "n2", "n3"]);
    expect(s.cluster.filter((m) => m.self).map((m) => m.name)).toEqual([leader]);
  });
});

describe("dashboard - helpers", () => {
  const row = (name: string, fill: number, utilisation: number) =>
    ({ name, fill, utilisation }) as unknown as StageRow;

  it("dashboard - the bottleneck is the busiest stage or the fullest queue", () => {
    expect(bottleneckOf([row("a", 0, 0), row("b", 0.01, 0.04)])).toBeNull();
    expect(bottleneckOf([row("a", 0, 0.4), row("b", 0.1, 0.7), row("c", 0, 0.2)])).toEqual({
      stage: "b",
      reason: "70% busy",
    });
    expect(bottleneckOf([row("a", 0, 0.4), row("b", 0.9, 0.1)])).toEqual({
      stage: "b",
      reason: "queue 90% full",
    });
  });

  it("dashboard - a peer's /health URL never uses a wildcard listen address", () => {
    expect(healthUrl("127.0.0.1:7001", "127.0.0.1:8001")).toBe("http://127.0.0.1:7001/health");
    expect(healthUrl("0.0.0.0:7001", "10.0.0.5:8001")).toBe("http://10.0.0.5:7001/health");
    expect(healthUrl(":::7001", "[fd00::5]:8001")).toBe("http://[fd00::5]:7001/health");
    expect(healthUrl("[::1]:7001", "[::1]:8001")).toBe("http://[::1]:7001/health");
  });

  it("dashboard - the rate of a counter over the last seconds", () => {
    const meter = new RateMeter();
    expect(meter.rate(0, 0)).toBe(0);
    expect(meter.rate(1_000, 100)).toBeCloseTo(100);
    expect(meter.rate(2_000, 300)).toBeCloseTo(150);
    for (let t = 3_000; t <= 10_000; t += 1_000) meter.rate(t, 300 + (t - 2_000) / 10);
    // 100 per second for the last five seconds, whatever came before.
    expect(meter.rate(11_000, 1_200)).toBeCloseTo(100, 0);
  });
});
