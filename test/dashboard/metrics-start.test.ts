import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { sleep, TestCluster } from "../integration/harness.js";
import { type Exposition, parseExposition, sampleValue, series } from "./prom.js";

/**
 * /metrics from the node's first moment: the registry is built at start (not at the first
 * scrape), histograms are there before anyone asks, and members that leave take their
 * series with them.
 */

const queueStages = ["raft-step", "wal-append", "replicate", "apply", "respond"];
const histograms = [
  "stageraft_stage_wait_duration_seconds",
  "stageraft_stage_service_duration_seconds",
  "stageraft_client_request_duration_seconds",
];

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

async function scrape(c: TestCluster, name: string): Promise<Exposition> {
  const response = await fetch(`http://${c.node(name).client}/metrics`);
  expect(response.status).toBe(200);
  return parseExposition(await response.text());
}

/** CPU seconds the process has used, as the kernel counts them (utime + stime). */
function kernelCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim());
  // Fields 14 and 15 of stat(5); the slice starts at field 3.
  return (Number(fields[11]) + Number(fields[12])) / ticks;
}

describe("metrics - from start", () => {
  it("metrics - the first scrape of a fresh node has every family and its process CPU", async () => {
    cluster = await TestCluster.start(1);
    const client = cluster.client(["n1"]);
    for (let k = 0; k < 300; k++) await client.put(`k${k % 20}`, "v".repeat(100));
    await client.get("k1");
    const pid = cluster.node("n1").process!.pid!;
    const cpuBefore = kernelCpuSeconds(pid);
    const first = await scrape(cluster, "n1");
    // The whole process's CPU, start-up and the writes included (not just since this scrape).
    expect(cpuBefore).toBeGreaterThan(0.1);
    expect(sampleValue(first, "process_cpu_seconds_total")).toBeGreaterThanOrEqual(cpuBefore * 0.8);
    for (const name of histograms) expect(first.types.get(name), name).toBe("histogram");
    // One node: replicate has no peer to send to, so only its series are asserted there.
    for (const stage of queueStages) {
      for (const name of histograms.slice(0, 2)) {
        const buckets = series(first, `${name}_bucket`, { stage });
        expect(buckets.length, `${name} ${stage}`).toBeGreaterThan(5);
        expect(buckets.at(-1)!.labels.le).toBe("+Inf");
        if (stage === "replicate") continue;
        expect(sampleValue(first, `${name}_count`, { stage }), `${name} ${stage}`).toBeGreaterThan(
          0,
        );
      }
    }
    const request = "stageraft_client_request_duration_seconds";
    expect(sampleValue(first, `${request}_count`, { op: "put" })).toBe(300);
    expect(sampleValue(first, `${request}_count`, { op: "get" })).toBe(1);
    // Every op has its series from the start, used or not.
    expect(sampleValue(first, `${request}_count`, { op: "member-add" })).toBe(0);
    expect(sampleValue(first, `${request}_sum`, { op: "put" })).toBeGreaterThan(0);
    // A later scrape after more kinds of work adds no family: all were there from the start.
    await client.snapshot();
    await client.scan({ limit: 5 });
    const later = await scrape(cluster, "n1");
    expect([...later.types.keys()].sort()).toEqual([...first.types.keys()].sort());
    expect(sampleValue(later, `${request}_count`, { op: "scan" })).toBe(1);
  }, 60_000);

  it("metrics - a removed member's series disappear from every remaining node", async () => {
    cluster = await TestCluster.start(3);
    const leader = await cluster.waitForLeader();
    const gone = ["n1", "n2", "n3"].find((n) => n !== leader)!;
    const stay = ["n1", "n2", "n3"].filter((n) => n !== gone);
    const client = cluster.client(stay);
    for (let k = 0; k < 20; k++) await client.put(`k${k}`, "v");
    const mentions = (e: Exposition) =>
      e.samples.filter((s) => Object.values(s.labels).includes(gone)).map((s) => s.name);
    expect(mentions(await scrape(cluster, leader)).length).toBeGreaterThan(0);
    // A marker compares two samples (once a second): the change must come after the first.
    const url = `http://${cluster.node(leader).client}/dashboard/history`;
    const sampled = async () =>
      ((await (await fetch(url)).json()) as { points: unknown[] }).points.length;
    while ((await sampled()) === 0) await sleep(100);
    await client.memberRemove(gone);
    const deadline = Date.now() + 15_000;
    let left: Record<string, string[]> = {};
    while (Date.now() < deadline) {
      left = {};
      for (const name of stay) {
        const names = mentions(await scrape(cluster, name));
        if (names.length > 0) left[name] = [...new Set(names)];
      }
      if (Object.keys(left).length === 0) break;
      await sleep(200);
    }
    expect(left).toEqual({});
    // The leader's history (sampled once a second) marks the change for the dashboard.
    let markers: { kind: string; text: string }[] = [];
    for (let k = 0; k < 50 && !markers.some((m) => m.kind === "membership"); k++) {
      const history = (await (await fetch(url)).json()) as { markers: typeof markers };
      markers = history.markers;
      await sleep(100);
    }
    const membership = markers.filter((m) => m.kind === "membership");
    expect(membership.length, JSON.stringify(markers)).toBeGreaterThan(0);
    expect(membership.at(-1)!.text).not.toContain(gone);
  }, 60_000);
});
