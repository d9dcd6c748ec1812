import { execFileSync } from "node:child_process";
import { constants } from "node:fs";
import { type FileHandle, open, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { StageraftClient } from "../../src/mod.js";
import { fastRaft, sleep, TestCluster } from "./harness.js";

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

/** Far above a clean stop (about a second), far below the defect (the whole snapshot). */
const exitBoundMs = 10_000;

/** Puts `w<k>` with `window` in flight until stopped; `acked` holds every key acknowledged. */
function startWriter(client: StageraftClient, window: number, valueBytes: number) {
  const acked: string[] = [];
  let next = 0;
  let stopping = false;
  const value = "w".repeat(valueBytes);
  const loops = Array.from({ length: window }, async () => {
    while (!stopping) {
      const key = `w${next++}`;
      // A refused or unanswered put may or may not be applied: only the acked ones count.
      await client.put(key, value).then(
        () => acked.push(key),
        () => sleep(20),
      );
    }
  });
  return {
    acked,
    stop: async () => {
      stopping = true;
      await Promise.all(loops);
    },
  };
}

/** SIGTERM `name` and wait for its exit: its code, or null if it outlived `boundMs`. */
async function terminate(name: string, boundMs: number): Promise<number | null> {
  const node = cluster!.node(name);
  node.process?.kill("SIGTERM");
  return Promise.race([node.exited, sleep(boundMs).then(() => null)]);
}

async function expectAllPresent(client: StageraftClient, keys: readonly string[]): Promise<void> {
  for (let k = 0; k < keys.length; k += 256) {
    const batch = keys.slice(k, k + 256);
    const found = await Promise.all(batch.map((key) => client.get(key)));
    expect(found.filter((item) => item.value === null).map((_, j) => batch[j])).toEqual([]);
  }
}

/**
 * A snapshot file on a slow disk: the node's archive file is a FIFO the test drains at about
 * 1 MiB/s. The writing takes as long as the test wants, whatever the machine's speed.
 */
class SlowSnapshotDisk {
  private reader: FileHandle | null = null;
  private closed = false;
  bytesRead = 0;
  readonly drained: Promise<void>;

  constructor(readonly path: string) {
    execFileSync("mkfifo", [path]);
    this.drained = this.drain();
  }

  private async drain(): Promise<void> {
    // Resolves once the node opens the file for writing (or close() does).
    this.reader = await open(this.path, constants.O_RDONLY);
    const chunk = new Uint8Array(64 << 10);
    while (!this.closed) {
      const { bytesRead } = await this.reader.read(chunk, 0, chunk.length);
      if (bytesRead === 0) break; // The writer closed it.
      this.bytesRead += bytesRead;
      await sleep(60);
    }
  }

  /** Unblocks our own open if the node never opened the FIFO, then stops reading. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.reader === null) {
      const writer = await open(this.path, constants.O_WRONLY | constants.O_NONBLOCK).catch(
        () => null,
      );
      await writer?.close();
    }
    await this.drained.catch(() => {});
    await this.reader?.close();
    await rm(this.path, { force: true });
  }
}

describe("shutdown", () => {
  it.each(["inline", "workers"] as const)(
    "shutdown - SIGTERM while a big snapshot is being written exits 0 at once, losing no ack (apply %s)",
    async (pool) => {
      // Snapshots only on request, so that the one written is the one the test slows down.
      cluster = await TestCluster.start(1, {
        raft: { ...fastRaft, snapshotEvery: 0 },
        stages: { apply: { pool } },
      });
      const client = cluster.client();
      // 40 MiB of state: at 1 MiB/s its archive takes 40 s to write.
      const big = "b".repeat(512 << 10);
      await Promise.all(Array.from({ length: 80 }, (_, k) => client.put(`big${k}`, big)));

      const disk = new SlowSnapshotDisk(join(cluster.node("n1").dataDir, "snap", "checkpoint.tmp"));
      try {
        const requested = client.snapshot().then(
          () => "written",
          (error: Error) => error.message,
        );
        const deadline = Date.now() + 15_000;
        while (disk.bytesRead === 0 && Date.now() < deadline) await sleep(20);
        expect(disk.bytesRead).toBeGreaterThan(0); // The archive is being written now.
        expect(cluster.node("n1").output).toContain(`"applyPool":"${pool}"`);

        // One attempt per put: a retry against the stopped node would only slow the test down.
        const writer = startWriter(cluster.client(undefined, { maxAttempts: 1 }), 32, 64);
        while (writer.acked.length < 200) await sleep(10);
        const code = await terminate("n1", exitBoundMs);
        await writer.stop();
        expect(code, `exit code (null: still running ${exitBoundMs} ms after SIGTERM)`).toBe(0);
        expect(await requested).not.toBe("written");
        expect(cluster.node("n1").output).toContain("snapshot abandoned: the node is stopping");

        await disk.close();
        cluster.restart("n1");
        await cluster.waitForLeader();
        const after = cluster.client();
        await expectAllPresent(after, writer.acked);
        expect((await after.get("big79")).value).toBe(big);
      } finally {
        await disk.close();
      }
    },
  );

  it("shutdown - SIGTERM to every node of a cluster under load: each exits 0, no ack lost", async () => {
    // Snapshots every 300 entries: one is often being written when the signal comes.
    cluster = await TestCluster.start(3, { raft: { ...fastRaft, snapshotEvery: 300 } });
    const writer = startWriter(cluster.client(undefined, { maxAttempts: 1 }), 64, 4096);
    while (writer.acked.length < 2_000) await sleep(20);
    const codes = await Promise.all(cluster.nodes.map((node) => terminate(node.name, exitBoundMs)));
    await writer.stop();
    expect(codes).toEqual([0, 0, 0]);

    for (const node of cluster.nodes) cluster.restart(node.name);
    await cluster.waitForLeader();
    await expectAllPresent(cluster.client(), writer.acked);
  });
});
