import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { freePort, sleep } from "./harness.js";

// Issue 15: SIGTERM to `npm start` must stop the nodes it started, not leave them running.

const root = fileURLToPath(new URL("../..", import.meta.url));
let npm: ChildProcess | null = null;
let nodePids: number[] = [];
let dataDir: string | null = null;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

afterEach(async () => {
  if (npm?.exitCode === null) npm.kill("SIGKILL");
  for (const pid of nodePids) if (alive(pid)) process.kill(pid, "SIGKILL");
  nodePids = [];
  npm = null;
  if (dataDir !== null) await rm(dataDir, { recursive: true, force: true });
  dataDir = null;
});

/** Waits for an event, not for speed: the bound only keeps a broken start from hanging. */
async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let k = 0; k < 1_800; k++) {
    if (await condition()) return;
    await sleep(50);
  }
  throw new Error(`${what}: not within 90 s`);
}

describe("npm start", () => {
  it("npm start - SIGTERM to npm stops the nodes it started", { timeout: 240_000 }, async () => {
    dataDir = await mkdtemp(join(tmpdir(), "stageraft-npm-start-"));
    const clientPorts = [await freePort(), await freePort(), await freePort()];
    const peerPorts = [await freePort(), await freePort(), await freePort()];
    npm = spawn("npm", ["start", "--silent"], {
      cwd: root,
      env: {
        ...process.env,
        STAGERAFT_DATA: dataDir,
        STAGERAFT_CLIENT_PORTS: clientPorts.join(","),
        STAGERAFT_PEER_PORTS: peerPorts.join(","),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    npm.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    npm.stderr!.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    await until(() => output.includes("Ctrl-C stops the cluster"), `npm start's banner\n${output}`);
    nodePids = [...output.matchAll(/ pid (\d+)/g)].map((match) => Number(match[1]));
    expect(nodePids).toHaveLength(3);
    await until(async () => {
      const ready = async (port: number) =>
        (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.status === 200;
      return (await Promise.all(clientPorts.map(ready))).some(Boolean);
    }, `a ready node\n${output}`);
    const npmExited = new Promise((resolve) => npm!.once("exit", resolve));
    npm.kill("SIGTERM");
    await until(() => nodePids.every((pid) => !alive(pid)), `the nodes' exit\n${output}`);
    await npmExited;
  });
});
