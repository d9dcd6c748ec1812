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
  cluster = await TestCluster.start(1);
  endpoints = cluster.nodes.map((n) => n.client).join(",");
});

afterAll(async () => {
  await cluster.stop();
});

describe("cli - lease commands", () => {
  it("cli lease - grant, put --lease, timetolive --keys, keep-alive --once, list, revoke", async () => {
    const granted = await stageraft("lease", "grant", "60");
    expect(granted.code).toBe(0);
    const id = /^lease (\d+) granted with TTL\(60s\)\n$/.exec(granted.stdout)?.[1];
    expect(id).toBeDefined();
    expect(await stageraft("put", "svc", "up", "--lease", id!)).toMatchObject({ code: 0 });
    const ttl = await stageraft("lease", "timetolive", id!, "--keys");
    expect(ttl.stdout).toMatch(
      new RegExp(
        `^lease ${id} granted with TTL\\(60s\\), remaining\\(\\d+s\\), attached keys\\(\\[svc\\]\\)\\n$`,
      ),
    );
    expect(await stageraft("lease", "keep-alive", id!, "--once")).toMatchObject({
      code: 0,
      stdout: `lease ${id} keepalived with TTL(60)\n`,
    });
    expect(await stageraft("lease", "list")).toMatchObject({
      code: 0,
      stdout: `found 1 leases\n${id}\n`,
    });
    expect(await stageraft("lease", "revoke", id!)).toMatchObject({
      code: 0,
      stdout: `lease ${id} revoked\n`,
    });
    expect(await stageraft("get", "svc")).toMatchObject({ code: 0, stdout: "" });
    expect(await stageraft("lease", "timetolive", id!)).toMatchObject({
      stdout: `lease ${id} already expired\n`,
    });
    // Gone: refused with NOT_FOUND (exit 1); a bad ttl or id is a usage error / BAD_REQUEST.
    const again = await stageraft("lease", "revoke", id!);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("NOT_FOUND");
    expect((await stageraft("lease", "grant", "0")).code).toBe(2);
    const badId = await stageraft("lease", "keep-alive", "abc", "--once");
    expect(badId.code).toBe(1);
    expect(badId.stderr).toContain('"lease"');
  });
});
