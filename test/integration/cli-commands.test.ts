import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliRunOptions, stageraft } from "./cli-run.js";
import { TestCluster } from "./harness.js";

// Issue 15: the CLI the way etcdctl users type it, against a cluster with tokens.

const tokens = { clientToken: "client-secret", adminToken: "admin-secret" };
let cluster: TestCluster;
let endpoints: string;

/** A command with the cluster's endpoints and the admin token, unless given otherwise. */
function cli(args: readonly string[], options: CliRunOptions = {}) {
  return stageraft([...args, "--endpoints", endpoints, "--token", tokens.adminToken], options);
}

beforeAll(async () => {
  cluster = await TestCluster.start(3, { auth: tokens });
  endpoints = cluster.nodes.map((node) => node.client).join(",");
});

afterAll(async () => {
  await cluster.stop();
});

describe("cli - tokens and environment", () => {
  it("cli - a wrong token is UNAUTHORIZED, exit 1, for status as for put", async () => {
    for (const args of [["status"], ["put", "k", "v"], ["endpoint", "status", "-w", "table"]]) {
      const result = await stageraft([...args, "--endpoints", endpoints, "--token", "wrong"]);
      expect(result.code, `${args.join(" ")}: ${result.stderr}`).toBe(1);
      expect(result.stderr).toMatch(/^Error: UNAUTHORIZED: /);
    }
  });

  it("cli - STAGERAFT_ENDPOINTS and STAGERAFT_TOKEN are read; flags win over them", async () => {
    const env = { STAGERAFT_ENDPOINTS: endpoints, STAGERAFT_TOKEN: tokens.clientToken };
    expect(await stageraft(["put", "env-key", "env-value"], { env })).toMatchObject({ code: 0 });
    expect(await stageraft(["get", "env-key"], { env })).toMatchObject({
      code: 0,
      stdout: "env-key\nenv-value\n",
    });
    const wrongFlag = await stageraft(["get", "env-key", "--token", "wrong"], { env });
    expect(wrongFlag.code).toBe(1);
    const noToken = await stageraft(["get", "env-key"], {
      env: { STAGERAFT_ENDPOINTS: endpoints },
    });
    expect(noToken.stderr).toContain("UNAUTHORIZED");
  });

  it("cli - every subcommand's --help shows the global options; snapshot's says what it does", {
    timeout: 180_000,
  }, async () => {
    const commands = [
      ["put"],
      ["get"],
      ["del"],
      ["cas"],
      ["incr"],
      ["scan"],
      ["status"],
      ["members"],
      ["member", "add"],
      ["member", "promote"],
      ["endpoint", "health"],
      ["endpoint", "status"],
      ["transfer-leader"],
      ["snapshot"],
      ["snapshot", "save"],
    ];
    const helps = await Promise.all(commands.map((command) => stageraft([...command, "--help"])));
    for (const [k, command] of commands.entries()) {
      const help = helps[k]!;
      expect(help.code).toBe(0);
      expect(help.stdout, command.join(" ")).toContain("--endpoints <list>");
      expect(help.stdout, command.join(" ")).toContain("STAGERAFT_TOKEN");
    }
    const snapshot = await stageraft(["snapshot", "--help"]);
    expect(snapshot.stdout).toMatch(/every member of the cluster snapshots/);
    expect(snapshot.stdout).not.toContain("first endpoint");
    // serve and remu talk to no cluster: their help leaves the client options out.
    expect((await stageraft(["serve", "--help"])).stdout).not.toContain("--endpoints");
  });
});

describe("cli - etcdctl's commands", () => {
  it("cli - endpoint health: every endpoint ready, exit 0; a table with took and error", async () => {
    const simple = await cli(["endpoint", "health"]);
    expect(simple.code).toBe(0);
    for (const node of cluster.nodes) expect(simple.stdout).toContain(`${node.client} is healthy`);
    const table = await cli(["endpoint", "health", "-w", "table"]);
    expect(table.stdout).toMatch(/\| endpoint +\| health \| took +\| error \|/);
    expect(table.stdout.match(/\| true +\|/g)?.length).toBe(3);
    const json = JSON.parse((await cli(["endpoint", "health", "-w", "json"])).stdout);
    expect(json).toHaveLength(3);
  });

  it("cli - endpoint status: one row per endpoint, one leader", async () => {
    const result = await cli(["endpoint", "status", "-w", "json"]);
    expect(result.code).toBe(0);
    const rows = JSON.parse(result.stdout) as { endpoint: string; role: string }[];
    expect(rows.map((row) => row.endpoint)).toEqual(cluster.nodes.map((node) => node.client));
    expect(rows.filter((row) => row.role === "leader")).toHaveLength(1);
  });

  it("cli - get --prefix, --print-value-only, --keys-only", async () => {
    for (const [key, value] of [
      ["app/a", "1"],
      ["app/b", "2"],
      ["apple", "3"],
      ["b", "4"],
    ])
      expect((await cli(["put", key!, value!])).code).toBe(0);
    expect((await cli(["get", "app/", "--prefix"])).stdout).toBe("app/a\n1\napp/b\n2\n");
    expect((await cli(["get", "app", "--prefix", "--keys-only"])).stdout).toBe(
      "app/a\napp/b\napple\n",
    );
    expect((await cli(["get", "app", "--prefix", "--print-value-only"])).stdout).toBe("1\n2\n3\n");
    expect((await cli(["get", "app/a", "--print-value-only"])).stdout).toBe("1\n");
    expect((await cli(["get", "app/a", "--keys-only"])).stdout).toBe("app/a\n");
    expect((await cli(["get", "app", "--prefix", "--limit", "1"])).stdout).toBe("app/a\n1\n");
    const both = await cli(["get", "b", "--keys-only", "--print-value-only"]);
    expect(both.code).toBe(2);
  });

  it("cli - put reads the value from stdin when it is left out", async () => {
    const value = "line one\nline two\n";
    expect(await cli(["put", "from-stdin"], { input: value })).toMatchObject({
      code: 0,
      stdout: "OK\n",
    });
    expect((await cli(["get", "from-stdin", "--print-value-only"])).stdout).toBe(`${value}\n`);
    expect((await cli(["put"])).code).toBe(2);
  });

  it("cli - member add --learner, then member promote makes it a voter", async () => {
    const n4 = await cluster.join("n4");
    const added = await cli([
      "member",
      "add",
      "n4",
      "--peer",
      n4.peer,
      "--client",
      n4.client,
      "--learner",
      "-w",
      "json",
    ]);
    expect(added.code, added.stderr).toBe(0);
    const members = (out: string) =>
      (JSON.parse(out) as { members: { name: string; voter: boolean }[] }).members;
    expect(members(added.stdout).find((m) => m.name === "n4")?.voter).toBe(false);
    const last = JSON.parse((await cli(["put", "sync", "1", "-w", "json"])).stdout) as {
      index: number;
    };
    await cluster.waitForHealth("n4", (h) => Number(h.appliedIndex) >= last.index);
    const promoted = await cli(["member", "promote", "n4", "-w", "table"]);
    expect(promoted.code, promoted.stderr).toBe(0);
    expect(promoted.stdout).toMatch(/\| n4 +\|[^\n]*\| voter +\|/);
    const asClient = await stageraft([
      "member",
      "promote",
      "n4",
      "--endpoints",
      endpoints,
      "--token",
      tokens.clientToken,
    ]);
    expect(asClient.code).toBe(1);
    expect(asClient.stderr).toContain("UNAUTHORIZED");
  });
});
