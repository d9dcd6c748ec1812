import { connect as connectTcp, type Socket } from "node:net";
import pino from "pino";
import { afterEach, describe, expect, test } from "vitest";
import type { AdmissionController } from "../../queues/mod.js";
import { defaultProtocolLimits } from "../../stages/protocol.js";
import { encodeJsonFrame, FrameKind } from "../../stages/replicate/peer-frames.js";
import { PeerGateway, type PeerGatewayOptions } from "../../stages/replicate/peer-gateway.js";

/**
 * The peer gateway on a real loopback socket with fake neighbours: the limits on strangers
 * (pending hellos, stalled frames) and whose forward replies are taken.
 */

const silent = pino({ level: "silent" });

interface Started {
  readonly gateway: PeerGateway;
  readonly port: number;
  readonly replies: [string, number, string][];
  readonly stats: { peerFrames: number; peerRejected: number; overloaded: number };
}

const gateways: PeerGateway[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const gateway of gateways.splice(0)) await gateway.stop();
});

async function startGateway(options: Partial<PeerGatewayOptions>): Promise<Started> {
  const replies: [string, number, string][] = [];
  const stats = { peerFrames: 0, peerRejected: 0, overloaded: 0 };
  const gateway = new PeerGateway(
    {
      host: "127.0.0.1",
      port: 0,
      name: "n2",
      token: null,
      maxFrameBytes: 1 << 20,
      limits: defaultProtocolLimits,
      requestTimeoutMs: 5_000,
      ...options,
    },
    {
      raftStep: { offer: () => true },
      admission: { admit: () => true } as unknown as AdmissionController,
      forwardReplied: (...args) => {
        replies.push(args);
      },
      peerHello: () => {},
      removedNotice: () => {},
      replyNow: () => {},
    },
    stats,
    silent,
  );
  gateways.push(gateway);
  return { gateway, port: await gateway.start(), replies, stats };
}

/** A client socket that reports whether (and when) the server closed it. */
function open(port: number): Promise<{ socket: Socket; closed: Promise<void> }> {
  return new Promise((resolve) => {
    const socket = connectTcp({ host: "127.0.0.1", port }, () => {
      socket.setNoDelay(true);
      resolve({ socket, closed });
    });
    sockets.push(socket);
    socket.on("error", () => {});
    socket.on("data", () => {});
    const closed = new Promise<void>((done) => socket.on("close", () => done()));
  });
}

/** "closed" if `closed` settles within `ms`, else "open". */
function within(closed: Promise<void>, ms: number): Promise<"closed" | "open"> {
  return Promise.race([
    closed.then(() => "closed" as const),
    new Promise<"open">((resolve) => setTimeout(() => resolve("open"), ms)),
  ]);
}

const hello = (name: string) =>
  encodeJsonFrame(FrameKind.hello, { name, clientAddress: "127.0.0.1:1" });

describe("peer gateway - strangers", () => {
  test("peer gateway - a frame that stops arriving after the hello closes the connection", async () => {
    const { port, stats } = await startGateway({ frameIdleMs: 300 });
    const { socket, closed } = await open(port);
    socket.write(hello("n1"));
    // Announce 1000 bytes, send 10, then nothing: the connection must not hang on for ever.
    const header = Buffer.alloc(4);
    header.writeUInt32BE(1000, 0);
    socket.write(Buffer.concat([header, Buffer.alloc(10)]));
    expect(await within(closed, 10_000)).toBe("closed");
    expect(stats.peerRejected).toBe(1);
  });

  test("peer gateway - a peer idle between frames is not closed by the frame deadline", async () => {
    const { port } = await startGateway({ frameIdleMs: 100 });
    const { socket, closed } = await open(port);
    socket.write(hello("n1"));
    expect(await within(closed, 1_000)).toBe("open");
  });

  test("peer gateway - connections past the cap of pending hellos are closed at once", async () => {
    // The hello deadline is far off: only the cap can close the extra connection.
    const { port, stats } = await startGateway({ pendingHellosMax: 3, helloDeadlineMs: 60_000 });
    const pending = [await open(port), await open(port), await open(port)];
    const extra = await open(port);
    expect(await within(extra.closed, 5_000)).toBe("closed");
    expect(stats.peerRejected).toBe(1);
    for (const { closed } of pending) expect(await within(closed, 100)).toBe("open");
    // A hello frees a slot: the next stranger is let in to say its own.
    pending[0]!.socket.write(hello("n1"));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const next = await open(port);
    expect(await within(next.closed, 500)).toBe("open");
  });

  test("peer gateway - a forward reply names the peer it came from", async () => {
    const { port, replies } = await startGateway({});
    const { socket } = await open(port);
    socket.write(hello("n3"));
    socket.write(encodeJsonFrame(FrameKind.forwardReply, { forwardId: 7, text: "{}" }));
    const by = Date.now() + 5_000;
    while (replies.length === 0 && Date.now() < by)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(replies).toEqual([["n3", 7, "{}"]]);
  });
});
