import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestCluster } from "./harness.js";

const cli = fileURLToPath(new URL("../../dist/src/cli.js", import.meta.url));
let cluster: TestCluster;
let endpoints: string;

function stageraft(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args, "--endpoints", endpoints],
      { timeout: 20_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 99;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

beforeAll(async () => {
  cluster = await TestCluster.start(3);
  endpoints = cluster.nodes.map((n) => n.client).join(",");
});

afterAll(async () => {
  await cluster.stop();
});

describe("cli - etcdctl-like commands against a live cluster", () => {
  it("cli - put, get, del, incr, cas, scan with their outputs and exit codes", async () => {
    expect(await stageraft("put", "foo", "bar")).toMatchObject({ code: 0, stdout: "OK\n" });
    expect(await stageraft("get", "foo")).toMatchObject({ code: 0, stdout: "foo\nbar\n" });
    expect(await stageraft("get", "missing")).toMatchObject({ code: 0, stdout: "" });
    const json = await stageraft("get", "foo", "-w", "json");
    expect(JSON.parse(json.stdout)).toMatchObject({ found: true, value: "bar" });
    expect(await stageraft("incr", "n", "5")).toMatchObject({ code: 0, stdout: "5\n" });
    expect(await stageraft("incr", "n")).toMatchObject({ code: 0, stdout: "6\n" });
    expect(await stageraft("cas", "foo", "bar", "baz")).toMatchObject({ code: 0, stdout: "OK\n" });
    const failed = await stageraft("cas", "foo", "bar", "qux");
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain('current value is "baz"');
    expect(await stageraft("cas", "--absent", "fresh", "v")).toMatchObject({ code: 0 });
    expect(await stageraft("del", "fresh")).toMatchObject({ code: 0, stdout: "1\n" });
    expect(await stageraft("del", "fresh")).toMatchObject({ code: 0, stdout: "0\n" });
    const table = await stageraft("scan", "--prefix", "f", "-w", "table");
    expect(table.stdout).toContain("| foo | baz   |");
    const incrBad = await stageraft("incr", "foo");
    expect(incrBad.code).toBe(1);
    expect(incrBad.stderr).toContain("BAD_REQUEST");
  });

  it("cli - status and members as tables; usage errors exit 2; unreachable exits 3", async () => {
    const status = await stageraft("status", "-w", "table");
    expect(status.code).toBe(0);
    expect(status.stdout.match(/leader/g)?.length).toBeGreaterThanOrEqual(2);
    const members = await stageraft("members", "-w", "table");
    for (const node of cluster.nodes) expect(members.stdout).toContain(node.peer);
    expect((await stageraft("put")).code).toBe(2);
    const unreachable = await new Promise<number>((resolve) =>
      execFile(process.execPath, [cli, "get", "x", "--endpoints", "127.0.0.1:1"], (error) =>
        resolve(typeof error?.code === "number" ? error.code : 0),
      ),
    );
    expect(unreachable).toBe(3);
  });
});
