import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stageraft } from "./cli-run.js";
import { TestCluster } from "./harness.js";

// Issue 15: the error a command reports must not depend on the order of the endpoints.

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await TestCluster.start(3);
  // One survivor: it answers UNAVAILABLE (no leader, no quorum); the others refuse connections.
  await cluster.kill("n1");
  await cluster.kill("n3");
  await cluster.waitForHealth("n2", (h) => h.leader === null && h.role !== "leader");
});

afterAll(async () => {
  await cluster.stop();
});

describe("cli - the most telling error across endpoints", () => {
  it.each([
    ["first", ["n2", "n1", "n3"]],
    ["middle", ["n1", "n2", "n3"]],
    ["last", ["n1", "n3", "n2"]],
  ])(
    "cli - with the survivor listed %s, put reports its UNAVAILABLE and names every endpoint (exit 1)",
    async (_where, order) => {
      const endpoints = order.map((name) => cluster.node(name).client);
      const result = await stageraft([
        "put",
        "k",
        "v",
        "--endpoints",
        endpoints.join(","),
        "--timeout",
        "2000",
      ]);
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toMatch(/^Error: UNAVAILABLE: /);
      for (const endpoint of endpoints) expect(result.stderr).toContain(endpoint);
      expect(result.stderr).toContain(`${cluster.node("n1").client} ECONNREFUSED`);
    },
  );

  it("cli - every endpoint refusing connections is exit 3, CONNECTION", async () => {
    const endpoints = ["n1", "n3"].map((name) => cluster.node(name).client);
    const result = await stageraft(["get", "k", "--endpoints", endpoints.join(",")]);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/^Error: CONNECTION: /);
    for (const endpoint of endpoints) expect(result.stderr).toContain(endpoint);
  });

  it("cli - endpoint health exits 1 while an endpoint is not ready, with the reasons", async () => {
    const endpoints = cluster.nodes.map((node) => node.client).join(",");
    const result = await stageraft(["endpoint", "health", "--endpoints", endpoints]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`${cluster.node("n1").client} is unhealthy: ECONNREFUSED`);
    expect(result.stdout).toMatch(new RegExp(`${cluster.node("n2").client} is unhealthy: \\S`));
  });

  it("cli - status keeps an unreachable node's error in its own narrow column", async () => {
    const endpoints = cluster.nodes.map((node) => node.client).join(",");
    const result = await stageraft(["status", "-w", "table", "--endpoints", endpoints]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split("\n");
    const header = lines[1]!.split("|").map((cell) => cell.trim());
    expect(header).toEqual([
      "",
      "endpoint",
      "name",
      "role",
      "term",
      "leader",
      "commit",
      "applied",
      "error",
      "",
    ]);
    const row = (name: string) =>
      lines
        .find((line) => line.includes(cluster.node(name).client))!
        .split("|")
        .map((c) => c.trim());
    expect(row("n1")[3]).toBe(""); // role
    expect(row("n1")[8]).toBe("ECONNREFUSED");
    expect(row("n2")[2]).toBe("n2");
    expect(row("n2")[8]).toBe("");
    for (const line of lines) expect(line.length).toBeLessThan(100);
  });
});
