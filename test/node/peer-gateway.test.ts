import { connect as connectTcp, type Socket } from "node:net";
import pino from "pino";
import { afterEach, describe, expect, test } from "vitest";
import type { AdmissionController } from "../../queues/mod.js";
import { encodeMessages } from "../../raft/codec.js";
import { defaultProtocolLimits } from "../../stages/protocol.js";
import { encodeFrame, encodeJsonFrame, FrameKind } from "../../stages/replicate/peer-frames.js";
import {
  type PeerCounters,
  PeerGateway,
  type PeerGatewayOptions,
} from "../../stages/replicate/peer-gateway.js";

/**
 * The peer gateway on a real loopback socket with fake neighbours: the limits on strangers
 * (pending hellos, stalled frames) and whose forward replies are taken.
 */

const silent = pino({ level: "silent" });

interface Started {
  readonly gateway: PeerGateway;
  readonly port: number;
  readonly replies: [string, number, string][];
  readonly stats: PeerCounters;
  /** Texts answered at once (replyNow). */
  readonly sent: string[];
}

const gateways: PeerGateway[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const gateway of gateways.splice(0)) await gateway.stop();
});

async function startGateway(
  options: Partial<PeerGatewayOptions>,
  room = { raftStep: true },
): Promise<Started> {
  const replies: [string, number, string][] = [];
  const stats = { peerFrames: 0, peerRejected: 0, overloaded: 0, peerDropped: 0 };
  const sent: string[] = [];
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
      raftStep: { offer: () => room.raftStep },
      admission: { admit: () => true } as unknown as AdmissionController,
      forwardReplied: (...args) => {
        replies.push(args);
      },
      peerHello: () => {},
      removedNotice: () => {},
      replyNow: (_target, text) => {
        sent.push(text);
      },
    },
    stats,
    silent,
  );
  gateways.push(gateway);
  return { gateway, port: await gateway.start(), replies, stats, sent };
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

describe("peer gateway - a full raft-step queue", () => {
  const until = async (done: () => boolean) => {
    const by = Date.now() + 5_000;
    while (!done() && Date.now() < by) await new Promise((resolve) => setTimeout(resolve, 10));
  };

  test("peer gateway - dropped Raft messages are counted apart from OVERLOADED requests", async () => {
    const { port, stats, sent } = await startGateway({}, { raftStep: false });
    const { socket } = await open(port);
    socket.write(hello("n1"));
    const heartbeat = { type: "heartbeat", group: 1, from: "n1", to: "n2", term: 3 } as const;
    const messages = [0, 1].map((readSeq) => ({
      ...heartbeat,
      leaderCommit: 0,
      readSeq,
      sentTick: 0,
    }));
    socket.write(encodeFrame(FrameKind.raft, encodeMessages(messages)));
    await until(() => stats.peerDropped === 2);
    // Raft resends a dropped message: no client was refused, so OVERLOADED did not grow.
    expect(stats.peerDropped).toBe(2);
    expect(stats.overloaded).toBe(0);
    // A forwarded client request refused for the same reason is an OVERLOADED answer.
    const forward = { forwardId: 1, id: 9, request: { op: "get", key: "k" }, admin: false };
    socket.write(encodeJsonFrame(FrameKind.forward, forward));
    await until(() => sent.length === 1);
    expect(sent[0]).toContain("OVERLOADED");
    expect(stats.overloaded).toBe(1);
    expect(stats.peerDropped).toBe(2);
  });
});
