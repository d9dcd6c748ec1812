import { afterEach, describe, expect, test, vi } from "vitest";
import { configSchema } from "../../src/config.js";
import {
  decodeForward,
  decodeForwardReply,
  decodeHello,
  encodeFrame,
  encodeJsonFrame,
  FrameError,
  FrameKind,
  FrameReader,
  isHostPort,
  type PeerFrame,
} from "../../stages/replicate/peer-frames.js";
import { helloFrameBytesMax } from "../../stages/replicate/peer-gateway.js";

afterEach(() => vi.restoreAllMocks());

const bytes = (text: string) => Buffer.from(text);

/** Feed `stream` in pieces of `size` bytes, pulling every frame after each piece. */
function readAll(reader: FrameReader, stream: Buffer, size: number): PeerFrame[] {
  const frames: PeerFrame[] = [];
  for (let at = 0; at < stream.length; at += size) {
    reader.push(stream.subarray(at, at + size));
    for (let frame = reader.next(); frame !== null; frame = reader.next()) frames.push(frame);
  }
  return frames;
}

const plain = (frames: PeerFrame[]) =>
  frames.map((f) => ({ kind: f.kind, payload: f.payload.toString("hex") }));

describe("frame reader", () => {
  const payloads = [
    bytes('{"name":"n1","clientAddress":"h:1"}'),
    Buffer.alloc(0),
    Buffer.from([0, 1, 2, 255]),
    Buffer.alloc(1000, 9),
  ];
  const stream = Buffer.concat([
    encodeFrame(FrameKind.hello, payloads[0]!),
    encodeFrame(FrameKind.raft, payloads[1]!),
    encodeFrame(FrameKind.forward, payloads[2]!),
    encodeFrame(FrameKind.forwardReply, payloads[3]!),
  ]);
  const expected = plain([
    { kind: 1, payload: payloads[0]! },
    { kind: 2, payload: payloads[1]! },
    { kind: 3, payload: payloads[2]! },
    { kind: 4, payload: payloads[3]! },
  ]);

  test("frame reader - one byte at a time yields the same frames as one chunk", () => {
    expect(plain(readAll(new FrameReader(4096), stream, stream.length))).toEqual(expected);
    const reader = new FrameReader(4096);
    expect(plain(readAll(reader, stream, 1))).toEqual(expected);
    expect(reader.bufferedBytes).toBe(0);
    for (const size of [2, 3, 4, 5, 7, 64, 999])
      expect(plain(readAll(new FrameReader(4096), stream, size)), `pieces of ${size}`).toEqual(
        expected,
      );
  });

  test("frame reader - an incomplete frame yields nothing and keeps its bytes", () => {
    const reader = new FrameReader(4096);
    reader.push(stream.subarray(0, 3));
    expect(reader.next()).toBeNull();
    reader.push(stream.subarray(3, 10));
    expect(reader.next()).toBeNull();
    expect(reader.bufferedBytes).toBe(10);
  });

  test("frame reader - a length of zero or past the limit fails once its 4 bytes are in", () => {
    const zero = new FrameReader(4096);
    zero.push(Buffer.alloc(3));
    expect(zero.next()).toBeNull();
    zero.push(Buffer.alloc(1));
    expect(() => zero.next()).toThrow(FrameError);
    const big = new FrameReader(4096);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(200 * 1024 * 1024, 0);
    for (const byte of header.subarray(0, 3)) big.push(Buffer.from([byte]));
    expect(big.next()).toBeNull();
    big.push(header.subarray(3));
    expect(() => big.next()).toThrow(/209715200 bytes \(limit 4096\)/);
    // Exactly at the limit is fine.
    const edge = new FrameReader(5);
    edge.push(encodeFrame(FrameKind.raft, Buffer.alloc(4)));
    expect(edge.next()?.payload.length).toBe(4);
  });

  test("frame reader - the limit applies from the next frame on", () => {
    const hello = encodeJsonFrame(FrameKind.hello, { name: "n1" });
    const large = encodeFrame(FrameKind.raft, Buffer.alloc(10_000, 1));
    const reader = new FrameReader(64);
    reader.push(Buffer.concat([hello, large]));
    expect(reader.next()?.kind).toBe(FrameKind.hello);
    reader.setLimit(1 << 20);
    expect(reader.next()?.payload.length).toBe(10_000);
    // The same bytes with the small limit kept: refused.
    const strict = new FrameReader(64);
    strict.push(Buffer.concat([hello, large]));
    strict.next();
    expect(() => strict.next()).toThrow(FrameError);
  });

  test("frame reader - a 16 MiB frame in 64 KiB chunks is copied once, not once per chunk", () => {
    let concatBytes = 0;
    const concat = Buffer.concat.bind(Buffer);
    vi.spyOn(Buffer, "concat").mockImplementation((list, total) => {
      const out = concat(list, total);
      concatBytes += out.length;
      return out;
    });
    const frameBytes = 16 << 20;
    const header = Buffer.alloc(5);
    header.writeUInt32BE(frameBytes, 0);
    header[4] = FrameKind.raft;
    const reader = new FrameReader(256 << 20);
    reader.push(header);
    const chunk = Buffer.alloc(64 * 1024, 7);
    const frames: PeerFrame[] = [];
    for (let sent = 1; sent < frameBytes; sent += chunk.length) {
      reader.push(chunk.subarray(0, Math.min(chunk.length, frameBytes - sent)));
      const frame = reader.next();
      if (frame !== null) frames.push(frame);
    }
    expect(frames).toHaveLength(1);
    expect(frames[0]!.payload.length).toBe(frameBytes - 1);
    expect(frames[0]!.payload.every((b) => b === 7)).toBe(true);
    // The old reader copied everything buffered on every chunk: 2 GiB for this frame.
    expect(concatBytes).toBe(frameBytes);
    expect(reader.bytesCopied).toBe(frameBytes);
  });

  test("frame reader - frames inside one chunk are not copied at all", () => {
    const reader = new FrameReader(4096);
    expect(plain(readAll(reader, stream, stream.length))).toEqual(expected);
    expect(reader.bytesCopied).toBe(0);
  });
});

describe("peer frames - decoders", () => {
  const json = (value: unknown) => bytes(JSON.stringify(value));

  test("peer frames - hello: a good one, with and without a token", () => {
    expect(decodeHello(json({ name: "n1", clientAddress: "127.0.0.1:7001", token: "t" }))).toEqual({
      ok: true,
      value: { name: "n1", clientAddress: "127.0.0.1:7001", token: "t" },
    });
    const decoded = decodeHello(json({ name: "n-1.a_b", clientAddress: "h:0", extra: { x: 1 } }));
    expect(decoded).toEqual({
      ok: true,
      value: { name: "n-1.a_b", clientAddress: "h:0", token: null },
    });
  });

  test.each([
    ["not JSON", bytes("{")],
    ["empty", Buffer.alloc(0)],
    ["null", json(null)],
    ["an array", json([])],
    ["a string", json("n1")],
    ["no name", json({ clientAddress: "h:1" })],
    ["a numeric name", json({ name: 1, clientAddress: "h:1" })],
    ["an empty name", json({ name: "", clientAddress: "h:1" })],
    ["a 65-byte name", json({ name: "n".repeat(65), clientAddress: "h:1" })],
    ["a name with a space", json({ name: "n 1", clientAddress: "h:1" })],
    ["no clientAddress", json({ name: "n1" })],
    ["a clientAddress without a port", json({ name: "n1", clientAddress: "x" })],
    ["a numeric token", json({ name: "n1", clientAddress: "h:1", token: 12345 })],
    ["an object token", json({ name: "n1", clientAddress: "h:1", token: {} })],
    ["a boolean token", json({ name: "n1", clientAddress: "h:1", token: true })],
  ])("peer frames - hello refused: %s", (_what, payload) => {
    const decoded = decodeHello(payload);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.reason).toMatch(/hello/);
  });

  test("peer frames - host:port addresses are bounded and printable", () => {
    for (const good of ["127.0.0.1:7001", "node-1.example.com:65535", "h:0"])
      expect(isHostPort(good), good).toBe(true);
    for (const bad of [
      "x",
      "h:",
      ":1",
      "h:65536",
      "h:123456",
      "a:b:1",
      "h h:1",
      "h\u0000:1",
      "h\n:1",
      `${"h".repeat(254)}:1`,
      12,
      null,
    ])
      expect(isHostPort(bad), JSON.stringify(bad)).toBe(false);
    expect(isHostPort(`${"h".repeat(253)}:1`)).toBe(true);
  });

  test("peer frames - forward: good ones, and every field checked", () => {
    const request = { op: "get", key: "k" };
    expect(decodeForward(json({ forwardId: 3, id: "a", request }))).toEqual({
      ok: true,
      value: { forwardId: 3, id: "a", request, admin: false },
    });
    expect(decodeForward(json({ forwardId: 0, id: 1.5, request, admin: true }))).toEqual({
      ok: true,
      value: { forwardId: 0, id: 1.5, request, admin: true },
    });
    for (const bad of [
      null,
      "put",
      [1],
      { id: 1, request },
      { forwardId: "1", id: 1, request },
      { forwardId: -1, id: 1, request },
      { forwardId: 1.5, id: 1, request },
      { forwardId: 1, request },
      { forwardId: 1, id: {}, request },
      { forwardId: 1, id: "i".repeat(257), request },
      { forwardId: 1, id: 1 },
      { forwardId: 1, id: 1, request: null },
      { forwardId: 1, id: 1, request: "x" },
      { forwardId: 1, id: 1, request: [] },
      { forwardId: 1, id: 1, request, admin: "yes" },
    ])
      expect(decodeForward(json(bad)).ok, JSON.stringify(bad)).toBe(false);
    expect(decodeForward(bytes("{")).ok).toBe(false);
  });

  test("peer frames - forward reply: a good one, and every field checked", () => {
    expect(decodeForwardReply(json({ forwardId: 7, text: '{"id":1}' }))).toEqual({
      ok: true,
      value: { forwardId: 7, text: '{"id":1}' },
    });
    for (const bad of [
      null,
      [],
      { text: "x" },
      { forwardId: "1", text: "x" },
      { forwardId: 1e300, text: "x" },
      { forwardId: 1 },
      { forwardId: 1, text: 5 },
      { forwardId: 1, text: null },
    ])
      expect(decodeForwardReply(json(bad)).ok, JSON.stringify(bad)).toBe(false);
  });
});

describe("peer frames - the hello limit and the config", () => {
  const base = {
    name: "n".repeat(64),
    dataDir: "/tmp/x",
    listenClient: `${"h".repeat(253)}:65535`,
    listenPeer: "127.0.0.1:8001",
    initialCluster: `${"n".repeat(64)}=127.0.0.1:8001`,
  };

  test("peer frames - the largest hello a valid config sends fits the hello limit", () => {
    // JSON escapes a control character as 6 bytes: the worst token per character.
    for (const token of ["t".repeat(1024), "\u0001".repeat(170), "😀".repeat(256)]) {
      const parsed = configSchema.safeParse({ ...base, auth: { peerToken: token } });
      expect(parsed.success, `token of ${token.length} chars`).toBe(true);
      const hello = encodeJsonFrame(FrameKind.hello, {
        name: base.name,
        clientAddress: base.listenClient,
        token,
      });
      expect(hello.length - 4).toBeLessThanOrEqual(helloFrameBytesMax);
      expect(decodeHello(hello.subarray(5)).ok).toBe(true);
    }
  });

  test("peer frames - a peer token too long for a hello is refused at load", () => {
    for (const token of ["t".repeat(4096), "\u0001".repeat(1024)]) {
      const parsed = configSchema.safeParse({ ...base, auth: { peerToken: token } });
      expect(parsed.success, `token of ${token.length} chars`).toBe(false);
      if (!parsed.success) expect(JSON.stringify(parsed.error.issues)).toMatch(/peerToken/);
    }
  });
});
