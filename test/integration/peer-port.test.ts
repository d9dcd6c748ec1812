import { connect as connectTcp } from "node:net";
import { pack } from "msgpackr";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StageraftClient } from "../../src/mod.js";
import { pendingHellosMax } from "../../stages/replicate/peer-gateway.js";
import { TestCluster } from "./harness.js";

/**
 * Strangers on the peer port: every malformed or hostile frame, sent over a raw socket to a
 * real node, must cost that connection only — the node stays up, serves /health and clients,
 * and the cluster keeps committing.
 */

const peerToken = "peer-secret";

function frameOf(kind: number, payload: Buffer | string): Buffer {
  const body = typeof payload === "string" ? Buffer.from(payload) : payload;
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt32BE(1 + body.length, 0);
  frame[4] = kind;
  body.copy(frame, 5);
  return frame;
}

const jsonFrame = (kind: number, value: unknown): Buffer => frameOf(kind, JSON.stringify(value));

/**
 * Connect to `address`, write each chunk, and report whether the server closed the connection
 * within `waitMs` (a crash of the node closes it too: callers check the node afterwards).
 */
function probe(address: string, chunks: readonly Buffer[], waitMs = 10_000): Promise<boolean> {
  const [host, port] = address.split(":");
  return new Promise((resolve) => {
    const socket = connectTcp({ host: host!, port: Number(port) }, () => {
      socket.setNoDelay(true);
      for (const chunk of chunks) if (!socket.destroyed) socket.write(chunk);
    });
    // Writes after the server has closed fail with EPIPE/ECONNRESET: that is the point.
    socket.on("error", () => {});
    socket.on("data", () => {});
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, waitMs);
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** The node's counter of refused peer connections, from /metrics. */
async function peerRejected(cluster: TestCluster, name: string): Promise<number> {
  const text = await (await fetch(`http://${cluster.node(name).client}/metrics`)).text();
  const match = /^stageraft_peer_rejected_total(?:\{[^}]*\})? (\d+)/m.exec(text);
  return match ? Number(match[1]) : Number.NaN;
}

let written = 0;

/** The node is still running, answers /health, and takes a write (so does the cluster). */
async function expectAlive(cluster: TestCluster, name: string, client: StageraftClient) {
  const node = cluster.node(name);
  expect(node.exitCode, `${name} exited:\n${cluster.tail()}`).toBeNull();
  expect(node.process).not.toBeNull();
  expect(await cluster.health(name), `${name} /health`).not.toBeNull();
  const key = `alive-${++written}`;
  expect((await client.put(key, "v")).index).toBeGreaterThan(0);
  expect((await client.get(key)).value).toBe("v");
}

describe("peer port - with auth.peerToken set", () => {
  let cluster: TestCluster;
  let client: StageraftClient;
  // The node under attack; the hellos claim to be n1.
  const target = "n2";

  beforeAll(async () => {
    cluster = await TestCluster.start(3, { auth: { peerToken } });
    client = cluster.client([target]);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  const hello = (fields: Record<string, unknown>) =>
    jsonFrame(1, { name: "n1", clientAddress: "127.0.0.1:1", ...fields });
  const badHellos: [string, Buffer][] = [
    ["no token", jsonFrame(1, { name: "n1", clientAddress: "x" })],
    ["a numeric token", hello({ token: 12345 })],
    ["an object token", hello({ token: {} })],
    ["a null token", hello({ token: null })],
    ["an array token", hello({ token: ["peer-secret"] })],
    ["a wrong token", hello({ token: "peer-secreT" })],
    ["a hello that is not JSON", frameOf(1, "{{{")],
    ["a hello that is JSON null", frameOf(1, "null")],
    ["a hello that is a JSON string", frameOf(1, '"n1"')],
    ["a hello that is an empty payload", frameOf(1, "")],
    ["a numeric name", hello({ name: 12345, token: peerToken })],
    ["an empty name", hello({ name: "", token: peerToken })],
    ["the node's own name", hello({ name: target, token: peerToken })],
    ["a client address that is not host:port", hello({ token: peerToken, clientAddress: "x" })],
    ["a client address with port 99999", hello({ token: peerToken, clientAddress: "h:99999" })],
    [
      "a 10 KB client address",
      hello({ token: peerToken, clientAddress: `${"h".repeat(10_000)}:1` }),
    ],
    ["a raft frame before any hello", frameOf(2, Buffer.from([0xc1, 0xc1]))],
    ["a forward frame before any hello", frameOf(3, "null")],
    ["an unknown kind first", frameOf(9, "{}")],
    ["a zero-length frame", Buffer.alloc(4)],
  ];

  it.each(badHellos)(
    "peer port - a bad first frame (%s) closes that connection; the node lives on",
    async (_what, frame) => {
      expect(await probe(cluster.node(target).peer, [frame])).toBe(true);
      await expectAlive(cluster, target, client);
    },
  );

  it("peer port - a refused hello does not change the member directory", async () => {
    const real = cluster.node("n1").client;
    const poison = hello({ token: peerToken, clientAddress: `${"h".repeat(10_000)}:1` });
    expect(await probe(cluster.node(target).peer, [poison])).toBe(true);
    const members = await client.members();
    expect(members.find((m) => m.name === "n1")?.client).toBe(real);
  });

  it("peer port - a token holder naming a non-member is let in but not put in the directory", async () => {
    // A node about to be added says hello before `member add`: refusing it would only delay it.
    const stranger = jsonFrame(1, { name: "n9", clientAddress: "evil:1", token: peerToken });
    expect(await probe(cluster.node(target).peer, [stranger], 1_000)).toBe(false);
    const members = await client.members();
    expect(members.map((m) => m.name).sort()).toEqual(["n1", "n2", "n3"]);
    expect(members.map((m) => m.client)).not.toContain("evil:1");
  });

  it("peer port - a hello announcing 200 MiB is refused at its length, not buffered", async () => {
    const header = Buffer.alloc(4);
    header.writeUInt32BE(200 * 1024 * 1024, 0);
    const closed = await probe(cluster.node(target).peer, [header, Buffer.alloc(64 * 1024)]);
    expect(closed).toBe(true);
    await expectAlive(cluster, target, client);
  });

  it("peer port - a connection that never says hello is closed at the hello deadline", async () => {
    expect(await probe(cluster.node(target).peer, [], 20_000)).toBe(true);
    await expectAlive(cluster, target, client);
  });

  it("peer port - past the cap of connections awaiting their hello, a new one is closed at once", async () => {
    const [host, port] = cluster.node(target).peer.split(":");
    const opened: { closed: boolean; socket: ReturnType<typeof connectTcp> }[] = [];
    const openOne = () =>
      new Promise<{ closed: boolean; socket: ReturnType<typeof connectTcp> }>((resolve) => {
        const socket = connectTcp({ host: host!, port: Number(port) }, () => resolve(entry));
        const entry = { closed: false, socket };
        socket.on("error", () => {});
        socket.on("close", () => {
          entry.closed = true;
        });
      });
    try {
      for (let k = 0; k < pendingHellosMax; k++) opened.push(await openOne());
      const extra = await openOne();
      opened.push(extra);
      await new Promise<void>((resolve) => {
        if (extra.closed) resolve();
        else extra.socket.on("close", () => resolve());
      });
      // Closed for the cap, not by the hello deadline: the older ones are all still open.
      expect(opened.slice(0, pendingHellosMax).filter((o) => o.closed)).toHaveLength(0);
    } finally {
      for (const { socket } of opened) socket.destroy();
    }
    await expectAlive(cluster, target, client);
  });

  it("peer port - a good hello sent one byte at a time is accepted; a bad frame after it closes the connection", async () => {
    const good = jsonFrame(1, {
      name: "n1",
      clientAddress: cluster.node("n1").client,
      token: peerToken,
    });
    const bytes = [...good].map((byte) => Buffer.from([byte]));
    // Accepted: the server keeps the connection open.
    expect(await probe(cluster.node(target).peer, bytes, 1_000)).toBe(false);
    const garbage = frameOf(2, Buffer.from([0xc1, 0xff, 0x00]));
    expect(await probe(cluster.node(target).peer, [...bytes, garbage])).toBe(true);
    await expectAlive(cluster, target, client);
  });

  it("peer port - every refusal was counted and the cluster still commits on every node", async () => {
    expect(await peerRejected(cluster, target)).toBeGreaterThanOrEqual(badHellos.length + 4);
    for (const node of cluster.nodes)
      await expectAlive(cluster, node.name, cluster.client([node.name]));
  });
});

describe("peer port - without a peer token, after a hello", () => {
  let cluster: TestCluster;
  let client: StageraftClient;
  const target = "n2";

  beforeAll(async () => {
    // An admin token only: clients need none, and the peer port is open to anyone.
    cluster = await TestCluster.start(3, { auth: { adminToken: "admin-secret" } });
    client = cluster.client([target]);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  const request = { op: "get", key: "k" };
  const badFrames: [string, Buffer][] = [
    ["a forward frame whose payload is null", frameOf(3, "null")],
    ["a forward frame that is a string", jsonFrame(3, "put")],
    ["a forward frame that is an array", jsonFrame(3, [1, 2])],
    ["a forward frame that is not JSON", frameOf(3, "{")],
    ["a forward frame with an empty payload", frameOf(3, "")],
    ["a forward with a string forwardId", jsonFrame(3, { forwardId: "1", id: 1, request })],
    ["a forward with an object id", jsonFrame(3, { forwardId: 1, id: {}, request })],
    ["a forward whose request is a string", jsonFrame(3, { forwardId: 1, id: 1, request: "x" })],
    ["a forward whose request is null", jsonFrame(3, { forwardId: 1, id: 1, request: null })],
    ["a forward with a string admin", jsonFrame(3, { forwardId: 1, id: 1, request, admin: "y" })],
    ["a forwardReply that is null", frameOf(4, "null")],
    ["a forwardReply with a string forwardId", jsonFrame(4, { forwardId: "1", text: "x" })],
    ["a forwardReply with a numeric text", jsonFrame(4, { forwardId: 1, text: 5 })],
    ["a raft frame of garbage msgpack", frameOf(2, Buffer.from([0xc1, 0xff, 0x00]))],
    ["a raft frame that is not an array", frameOf(2, Buffer.from(pack({ type: "vote" })))],
    [
      "a raft message with a string term",
      frameOf(
        2,
        Buffer.from(pack([{ type: "vote", group: 1, from: "n1", to: target, term: "9" }])),
      ),
    ],
    ["a raft frame with an empty payload", frameOf(2, "")],
    ["a second hello", jsonFrame(1, { name: "n1", clientAddress: "127.0.0.1:1" })],
    ["an unknown kind", frameOf(9, "{}")],
    ["a zero-length frame", Buffer.alloc(4)],
  ];

  it.each(badFrames)(
    "peer port - %s closes that connection; the node lives on",
    async (_what, frame) => {
      const hello = jsonFrame(1, { name: "n1", clientAddress: cluster.node("n1").client });
      expect(await probe(cluster.node(target).peer, [hello, frame])).toBe(true);
      await expectAlive(cluster, target, client);
    },
  );

  it("peer port - a node with client tokens but no peer token warns at start", async () => {
    await cluster.waitForOutput(target, "auth.peerToken is not");
  });

  it("peer port - bad frames split one byte at a time close the connection too", async () => {
    const hello = jsonFrame(1, { name: "n1", clientAddress: cluster.node("n1").client });
    const bytes = [...Buffer.concat([hello, frameOf(3, "null")])].map((b) => Buffer.from([b]));
    expect(await probe(cluster.node(target).peer, bytes)).toBe(true);
    await expectAlive(cluster, target, client);
  });

  it("peer port - every refusal was counted and the cluster still commits on every node", async () => {
    expect(await peerRejected(cluster, target)).toBeGreaterThanOrEqual(badFrames.length + 1);
    for (const node of cluster.nodes)
      await expectAlive(cluster, node.name, cluster.client([node.name]));
  });
});
