import { execFile } from "node:child_process";
import { rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestCluster } from "./harness.js";

const cli = fileURLToPath(new URL("../../dist/src/cli.js", import.meta.url));
let cluster: TestCluster;
let endpoints: string;

function stageraft(
  args: string[],
  stdin?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [cli, ...args, "--endpoints", endpoints],
      { timeout: 20_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 99;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(stdin ?? "");
  });
}

beforeAll(async () => {
  cluster = await TestCluster.start(1);
  endpoints = cluster.nodes.map((n) => n.client).join(",");
});

afterAll(async () => {
  await cluster.stop();
});

describe("cli - revisions, range delete, txn, compact", () => {
  it("cli - get --rev, scan --count-only/--keys-only, del --prefix, txn from a file and stdin, compact", async () => {
    expect((await stageraft(["put", "k", "old"])).code).toBe(0);
    const old = JSON.parse((await stageraft(["get", "k", "-w", "json"])).stdout);
    expect((await stageraft(["put", "k", "new"])).code).toBe(0);
    expect(await stageraft(["get", "k", "--rev", String(old.modRevision)])).toMatchObject({
      code: 0,
      stdout: "k\nold\n",
    });
    for (const key of ["p/1", "p/2"]) await stageraft(["put", key, "v"]);
    expect((await stageraft(["scan", "--prefix", "p/", "--count-only"])).stdout).toBe("2\n");
    expect((await stageraft(["scan", "--prefix", "p/", "--keys-only"])).stdout).toBe("p/1\np/2\n");
    expect(await stageraft(["del", "p/", "--prefix"])).toMatchObject({ code: 0, stdout: "2\n" });

    const txn = {
      compare: [{ key: "k", target: "value", op: "==", value: "new" }],
      success: [{ op: "put", key: "t", value: "1" }],
      failure: [],
    };
    const file = join(tmpdir(), `stageraft-txn-${process.pid}.json`);
    await writeFile(file, JSON.stringify(txn));
    const ran = await stageraft(["txn", file]);
    await rm(file, { force: true });
    expect(ran.code).toBe(0);
    expect(ran.stdout.split("\n")[0]).toBe("SUCCESS");
    // From stdin: t now exists (version 1), so a compare on version 0 fails.
    const failing = { ...txn, compare: [{ key: "t", target: "version", op: "==", value: 0 }] };
    const failed = await stageraft(["txn"], JSON.stringify(failing));
    expect(failed).toMatchObject({ code: 1 });
    expect(failed.stdout.split("\n")[0]).toBe("FAILURE");
    expect((await stageraft(["txn"], "{not json")).code).toBe(2);

    expect(await stageraft(["compact", String(old.modRevision + 1)])).toMatchObject({ code: 0 });
    const compacted = await stageraft(["get", "k", "--rev", String(old.modRevision)]);
    expect(compacted.code).toBe(1);
    expect(compacted.stderr).toContain("COMPACTED");
  });
});
