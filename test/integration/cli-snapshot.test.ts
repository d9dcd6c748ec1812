import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { stageraft } from "./cli-run.js";
import { TestCluster } from "./harness.js";

// Issue 15: snapshot save downloads a consistent snapshot; restore starts a new cluster from it.

const tokens = { clientToken: "client-secret", adminToken: "admin-secret" };
const clusters: TestCluster[] = [];
let scratch: string | null = null;

afterEach(async () => {
  for (const cluster of clusters.splice(0)) await cluster.stop();
  if (scratch !== null) await rm(scratch, { recursive: true, force: true });
  scratch = null;
});

describe("cli - snapshot save and restore", () => {
  it("cli - snapshot save FILE, restore it into a new 3-node cluster, read the data back", {
    timeout: 180_000,
  }, async () => {
    scratch = await mkdtemp(join(tmpdir(), "stageraft-snap-"));
    const old = await TestCluster.start(3, { auth: tokens });
    clusters.push(old);
    const oldEndpoints = old.nodes.map((node) => node.client).join(",");
    const admin = ["--endpoints", oldEndpoints, "--token", tokens.adminToken];
    // The data goes in through the library (quicker than a CLI process per key).
    const writer = old.client(undefined, { token: tokens.adminToken });
    for (let k = 0; k < 20; k++) await writer.put(`key/${k}`, `value ${k}`);
    await writer.incr("counter", 7);
    const file = join(scratch, "backup.snap");

    const asClient = await stageraft([
      "snapshot",
      "save",
      file,
      "--endpoints",
      oldEndpoints,
      "--token",
      tokens.clientToken,
    ]);
    expect(asClient.code).toBe(1);
    expect(asClient.stderr).toContain("UNAUTHORIZED");

    const saved = await stageraft(["snapshot", "save", file, ...admin, "-w", "json"]);
    expect(saved.code, saved.stderr).toBe(0);
    const info = JSON.parse(saved.stdout) as { index: number; bytes: number };
    expect((await stat(file)).size).toBe(info.bytes);
    // A write after the save is not in the snapshot.
    expect((await stageraft(["put", "after", "x", ...admin])).code).toBe(0);

    const fresh = await TestCluster.restored(3, file, { auth: tokens });
    clusters.push(fresh);
    const freshAdmin = [
      "--endpoints",
      fresh.nodes.map((n) => n.client).join(","),
      "--token",
      tokens.adminToken,
    ];
    const items = await stageraft(["get", "key/", "--prefix", "-w", "json", ...freshAdmin]);
    expect(items.code, items.stderr).toBe(0);
    const scanned = JSON.parse(items.stdout) as { items: { key: string; value: string }[] };
    expect(scanned.items).toHaveLength(20);
    expect(scanned.items.find((item) => item.key === "key/13")?.value).toBe("value 13");
    expect((await stageraft(["get", "counter", "--print-value-only", ...freshAdmin])).stdout).toBe(
      "7\n",
    );
    expect((await stageraft(["get", "after", ...freshAdmin])).stdout).toBe("");
    // The new cluster has its own members and takes writes.
    const members = await stageraft(["members", "-w", "json", ...freshAdmin]);
    const listed = (JSON.parse(members.stdout) as { members: { peer: string }[] }).members;
    expect(listed.map((m) => m.peer).sort()).toEqual(fresh.nodes.map((n) => n.peer).sort());
    expect((await stageraft(["incr", "counter", "1", ...freshAdmin])).stdout).toBe("8\n");
  });

  it("cli - a snapshot of megabytes downloads whole; restore refuses a damaged file, a used data dir", async () => {
    scratch = await mkdtemp(join(tmpdir(), "stageraft-snap-"));
    const cluster = await TestCluster.start(1, {});
    clusters.push(cluster);
    const file = join(scratch, "one.snap");
    const endpoints = cluster.nodes[0]!.client;
    // Megabytes, so that the download meets back-pressure (a full socket) many times.
    const writer = cluster.client();
    for (let k = 0; k < 24; k++) await writer.put(`big/${k}`, String(k % 10).repeat(512 * 1024));
    expect((await stageraft(["snapshot", "save", file, "--endpoints", endpoints])).code).toBe(0);
    expect((await stat(file)).size).toBeGreaterThan(12 * 1024 * 1024);
    const restore = (from: string, dir: string) =>
      stageraft([
        "snapshot",
        "restore",
        from,
        "--name",
        "m1",
        "--data-dir",
        dir,
        "--initial-cluster",
        "m1=127.0.0.1:1",
      ]);
    const bytes = await readFile(file);
    bytes[bytes.length - 20] = bytes[bytes.length - 20]! ^ 0xff;
    await writeFile(join(scratch, "bad.snap"), bytes);
    const bad = await restore(join(scratch, "bad.snap"), join(scratch, "d1"));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("checksum mismatch");
    const truncated = await restore(join(scratch, "none.snap"), join(scratch, "d2"));
    expect(truncated.code).not.toBe(0);
    await writeFile(join(scratch, "d3"), "");
    expect((await restore(file, join(scratch, "d4"))).code).toBe(0);
    const again = await restore(file, join(scratch, "d4"));
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("not empty");
  });
});
