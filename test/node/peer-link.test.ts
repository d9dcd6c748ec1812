import { createServer, type Server, type Socket } from "node:net";
import pino from "pino";
import { afterEach, describe, expect, test, vi } from "vitest";
import { ReplicateStage } from "../../stages/replicate/replicate.js";
import type { SnapshotStore } from "../../storage/snapshot-store.js";

/**
 * The replicate stage's outbound links on real loopback sockets: a peer whose link closes and
 * whose port then refuses connections is reported gone (onPeerUnreachable); a peer that resets
 * the link but still listens is not, nor one that was never reached.
 */

const silent = pino({ level: "silent" });
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Peer {
  readonly server: Server;
  readonly port: number;
  readonly sockets: Socket[];
}

async function listen(port = 0): Promise<Peer> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    socket.on("error", () => {});
    sockets.push(socket);
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const address = server.address();
  if (typeof address !== "object" || address === null) throw new Error("no address");
  cleanups.push(() => kill({ server, port: address.port, sockets }));
  return { server, port: address.port, sockets };
}

/** As the kernel does for a killed process: its connections close, its port refuses. */
async function kill(peer: Peer): Promise<void> {
  for (const socket of peer.sockets) socket.destroy();
  await new Promise<void>((resolve) => peer.server.close(() => resolve()));
}

function replicateTo(
  port: number,
  probeAfterUpMs = 0,
): { stage: ReplicateStage; unreachable: string[] } {
  const stage = new ReplicateStage(
    { name: "n1", clientAddress: "127.0.0.1:1", token: null },
    new Map([["n2", `127.0.0.1:${port}`]]),
    {} as SnapshotStore,
    {
      capacityItems: 16,
      batchItems: 16,
      maxFrameBytes: 1 << 20,
      maxBufferedBytes: 1 << 20,
      reconnectMinMs: 20,
      reconnectMaxMs: 100,
      probeAfterUpMs,
    },
    silent,
  );
  const unreachable: string[] = [];
  stage.onPeerUnreachable = (name) => unreachable.push(name);
  stage.start();
  cleanups.push(() => stage.close());
  return { stage, unreachable };
}

describe("replicate - peer links tell a dead peer from a reset link", () => {
  test("peer-link - the link closes and the reconnect is refused: the peer is reported gone", async () => {
    const peer = await listen();
    const { unreachable } = replicateTo(peer.port);
    await vi.waitFor(() => expect(peer.sockets.length).toBe(1));
    await kill(peer);
    await vi.waitFor(() => expect(unreachable).toEqual(["n2"]));
  });

  test("peer-link - a dying peer's port accepts one retry and resets it, then refuses: reported gone", async () => {
    const peer = await listen();
    // A retry that connects is up only briefly: that alone must not end the retries.
    const { unreachable } = replicateTo(peer.port, 200);
    await vi.waitFor(() => expect(peer.sockets.length).toBe(1));
    await new Promise((resolve) => setTimeout(resolve, 250));
    // The kernel closes the killed process's connections before its listening socket.
    peer.server.removeAllListeners("connection");
    peer.server.on("connection", (socket: Socket) => {
      socket.on("error", () => {});
      socket.resetAndDestroy();
      peer.server.close();
    });
    peer.sockets[0]!.destroy();
    await vi.waitFor(() => expect(unreachable).toEqual(["n2"]));
  });

  test("peer-link - the peer resets the link but still listens: reconnected, not reported", async () => {
    const peer = await listen();
    const { stage, unreachable } = replicateTo(peer.port);
    await vi.waitFor(() => expect(peer.sockets.length).toBe(1));
    peer.sockets[0]!.resetAndDestroy();
    await vi.waitFor(() => expect(peer.sockets.length).toBe(2));
    await vi.waitFor(() => expect(stage.peerStatus()[0]?.up).toBe(true));
    expect(unreachable).toEqual([]);
  });

  test("peer-link - a peer never reached (refused from the start) is not reported", async () => {
    const peer = await listen();
    await kill(peer); // its port now refuses
    const { unreachable } = replicateTo(peer.port);
    // Several refused attempts at 20..100 ms backoff; none may report the peer gone.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(unreachable).toEqual([]);
  });
});
