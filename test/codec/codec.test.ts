import fc from "fast-check";
import { Packr, pack } from "msgpackr";
import { describe, expect, test } from "vitest";
import { chainChecksum } from "../../raft/checksum.js";
import { CodecError, decodeMessages, encodeMessages } from "../../raft/codec.js";
import {
  type Entry,
  EntryType,
  type Message,
  type MessageType,
  type SnapshotMeta,
} from "../../raft/types.js";

const encoder = new TextEncoder();
const base = { group: 3, from: "n1", to: "n2", term: 7 };

function entry(index: number, type: EntryType, data: Uint8Array, prevChk: number): Entry {
  return { term: 7, index, type, data, chk: chainChecksum(prevChk, 7, index, type, data) };
}

const e1 = entry(11, EntryType.normal, encoder.encode("put a=1 ü😀"), 0);
const e2 = entry(
  12,
  EntryType.config,
  encoder.encode('{"config":{"voters":["n1"],"outgoing":[],"learners":[]},"context":""}'),
  e1.chk,
);
const e3 = entry(13, EntryType.normal, new Uint8Array(0), e2.chk); // a no-op
// A payload that is a view into a larger buffer, with every byte value.
const all = new Uint8Array(300).map((_, k) => k & 0xff);
const e4 = entry(14, EntryType.normal, all.subarray(20, 276), e3.chk);

const meta: SnapshotMeta = {
  index: 10,
  term: 6,
  chk: 0xfedcba98,
  size: 4096,
  config: { voters: ["n1", "n2", "n3"], outgoing: ["n0"], learners: ["n9"] },
};

/** One message of every type, as raft/types.ts defines them. */
const oneOfEach: Message[] = [
  { ...base, type: "vote", pre: true, lastLogIndex: 14, lastLogTerm: 7, transfer: false },
  { ...base, type: "vote", pre: false, lastLogIndex: 0, lastLogTerm: 0, transfer: true },
  { ...base, type: "voteResp", pre: false, granted: true },
  {
    ...base,
    type: "append",
    prevLogIndex: 10,
    prevLogTerm: 6,
    entries: [e1, e2, e3, e4],
    leaderCommit: 12,
    sentTick: 123456789,
  },
  {
    ...base,
    type: "append",
    prevLogIndex: 14,
    prevLogTerm: 7,
    entries: [],
    leaderCommit: 14,
    sentTick: 0,
  },
  {
    ...base,
    type: "appendResp",
    reject: true,
    index: 14,
    hintIndex: 9,
    hintTerm: 5,
    sentTick: 2 ** 40,
  },
  { ...base, type: "heartbeat", leaderCommit: 12, readSeq: 4, sentTick: 99 },
  { ...base, type: "heartbeatResp", readSeq: 4, sentTick: 99 },
  {
    ...base,
    type: "snapshot",
    meta,
    offset: 1024,
    length: 256,
    done: false,
    data: all.subarray(1, 257),
  },
  { ...base, type: "snapshot", meta, offset: 4096, length: 0, done: true, data: new Uint8Array(0) },
  { ...base, type: "snapshotResp", snapshotIndex: 10, nextOffset: 1280, reject: false },
  { ...base, type: "timeoutNow" },
  { ...base, type: "readIndex", ctx: "read-42-é" },
  { ...base, type: "readIndexResp", ctx: "read-42-é", ok: true, index: 12 },
];

const ALL_TYPES: MessageType[] = [
  "vote",
  "voteResp",
  "append",
  "appendResp",
  "heartbeat",
  "heartbeatResp",
  "snapshot",
  "snapshotResp",
  "timeoutNow",
  "readIndex",
  "readIndexResp",
];

/** Messages with byte payloads replaced by number arrays, for exact comparison. */
function plain(messages: readonly Message[]): unknown {
  return messages.map((m) => {
    const out: Record<string, unknown> = { ...m };
    if (m.type === "append")
      out.entries = m.entries.map((e) => ({ ...e, data: Array.from(e.data) }));
    if (m.type === "snapshot") out.data = Array.from(m.data);
    return out;
  });
}

/** Decode and report how: "ok", "CodecError", or the name of anything else thrown. */
function outcome(bytes: Uint8Array): { kind: string; messages?: Message[]; error?: unknown } {
  try {
    return { kind: "ok", messages: decodeMessages(bytes) };
  } catch (error) {
    return { kind: error instanceof CodecError ? "CodecError" : `other: ${String(error)}`, error };
  }
}

function expectCodecError(value: unknown, field: RegExp): void {
  let thrown: unknown;
  try {
    decodeMessages(pack(value));
  } catch (error) {
    thrown = error;
  }
  expect(thrown, `decoding ${JSON.stringify(value)}`).toBeInstanceOf(CodecError);
  expect((thrown as Error).message).toMatch(field);
}

const clone = <T>(value: T): T => structuredClone(value);

describe("codec", () => {
  test("codec - round trip of every message type, byte payloads intact", () => {
    expect(new Set(oneOfEach.map((m) => m.type))).toEqual(new Set(ALL_TYPES));
    const frame = encodeMessages(oneOfEach);
    const decoded = decodeMessages(frame);
    expect(plain(decoded)).toEqual(plain(oneOfEach));
    const append = decoded[3] as Extract<Message, { type: "append" }>;
    for (const [k, e] of append.entries.entries()) {
      expect(e.data).toBeInstanceOf(Uint8Array);
      expect(e.data.length).toBe([e1, e2, e3, e4][k]!.data.length);
      // The chain still checks out on the receiving side.
      expect(
        chainChecksum(k === 0 ? 0 : append.entries[k - 1]!.chk, e.term, e.index, e.type, e.data),
      ).toBe(e.chk);
    }
    const snapshot = decoded[8] as Extract<Message, { type: "snapshot" }>;
    expect(snapshot.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(snapshot.data)).toEqual(Array.from(all.subarray(1, 257)));
    // Each message on its own, and the empty frame.
    for (const m of oneOfEach)
      expect(plain(decodeMessages(encodeMessages([m])))).toEqual(plain([m]));
    expect(decodeMessages(encodeMessages([]))).toEqual([]);
  });

  test("codec - decoded payloads do not alias the frame buffer (a transport may reuse or detach it)", () => {
    const frame = encodeMessages(oneOfEach);
    const decoded = decodeMessages(frame);
    frame.fill(0); // as when uWebSockets.js reuses the ArrayBuffer after the message handler
    const payloads = (messages: readonly Message[]) =>
      messages.flatMap((m) =>
        m.type === "append"
          ? m.entries.map((e) => `entry ${e.index}: ${Buffer.from(e.data).toString("hex")}`)
          : m.type === "snapshot"
            ? [`snapshot chunk ${m.offset}: ${Buffer.from(m.data).toString("hex")}`]
            : [],
      );
    const changed = payloads(decoded).filter((p, k) => p !== payloads(oneOfEach)[k]);
    expect(
      changed.map((p) => p.slice(0, p.indexOf(":"))),
      "payloads that changed with the frame",
    ).toEqual([]);
  });

  test("codec - every truncation of a valid frame is rejected with CodecError; only the full frame decodes", () => {
    const frame = encodeMessages(oneOfEach);
    for (let length = 0; length < frame.length; length++) {
      const result = outcome(frame.subarray(0, length));
      expect(result.kind, `truncated to ${length} of ${frame.length} bytes`).toBe("CodecError");
    }
    const full = outcome(frame);
    expect(full.kind).toBe("ok");
    expect(plain(full.messages!)).toEqual(plain(oneOfEach));
  });

  test("codec - every single-byte corruption of a valid frame is rejected with CodecError or decodes to valid messages", () => {
    const frame = encodeMessages(oneOfEach);
    const others: string[] = [];
    for (let at = 0; at < frame.length; at++) {
      const original = frame[at]!;
      for (const value of new Set([
        original ^ 0x01,
        original ^ 0x80,
        0x00,
        0xff,
        0xc1,
        0xc0,
        0x7f,
      ])) {
        const copy = frame.slice();
        copy[at] = value;
        const result = outcome(copy);
        if (result.kind === "ok") {
          // Whatever passes must survive another round trip unchanged.
          expect(plain(decodeMessages(encodeMessages(result.messages!)))).toEqual(
            plain(result.messages!),
          );
        } else if (result.kind !== "CodecError") {
          others.push(`byte ${at}: ${original} -> ${value}: ${result.kind}`);
        }
      }
    }
    expect(others).toEqual([]);
  });

  test("codec - a frame with too many messages is rejected", () => {
    const frame = encodeMessages([oneOfEach[0]!, oneOfEach[2]!, oneOfEach[6]!]);
    expect(decodeMessages(frame, 3)).toHaveLength(3);
    expect(() => decodeMessages(frame, 2)).toThrow(CodecError);
    expect(() => decodeMessages(frame, 2)).toThrow(/3 messages \(max 2\)/);
  });

  test("codec - invalid fields are rejected with a message naming the field", () => {
    const vote = oneOfEach[0]!;
    const append = oneOfEach[3] as Extract<Message, { type: "append" }>;
    const snapshot = oneOfEach[8] as Extract<Message, { type: "snapshot" }>;
    const appendWith = (patch: Record<string, unknown>) => [
      { ...append, entries: [{ ...append.entries[0]!, ...patch }] },
    ];
    const snapshotMetaWith = (patch: Record<string, unknown>) => [
      { ...snapshot, meta: { ...snapshot.meta, ...patch } },
    ];

    expectCodecError({ not: "an array" }, /array of messages/);
    expectCodecError("frame", /array of messages/);
    expectCodecError([null], /not an object/);
    expectCodecError([7], /not an object/);
    expectCodecError([{ ...vote, term: -1 }], /term/);
    expectCodecError([{ ...vote, term: 1.5 }], /term/);
    expectCodecError([{ ...vote, term: "7" }], /term/);
    expectCodecError([{ ...vote, group: -3 }], /group/);
    expectCodecError([{ ...vote, type: "bogus" }], /unknown type bogus/);
    expectCodecError([{ ...vote, type: undefined }], /unknown type/);
    expectCodecError([{ ...vote, from: 5 }], /from/);
    expectCodecError([{ ...vote, to: null }], /to/);
    expectCodecError([{ ...vote, pre: 1 }], /vote\.pre/);
    expectCodecError([{ ...vote, lastLogIndex: -1 }], /vote\.lastLogIndex/);
    expectCodecError([{ ...vote, lastLogTerm: "3" }], /vote\.lastLogTerm/);
    expectCodecError([{ ...oneOfEach[5]!, hintTerm: 2 ** 60 }], /appendResp\.hintTerm/);
    expectCodecError([{ ...oneOfEach[6]!, sentTick: "soon" }], /heartbeat\.sentTick/);
    expectCodecError([{ ...oneOfEach[12]!, ctx: 42 }], /readIndex\.ctx/);
    expectCodecError([{ ...oneOfEach[13]!, ok: "yes" }], /readIndexResp\.ok/);
    expectCodecError([{ ...append, entries: "none" }], /append\.entries/);
    expectCodecError([{ ...append, entries: [null] }], /entry is not an object/);
    expectCodecError(appendWith({ data: undefined }), /entry data/);
    expectCodecError(appendWith({ data: "text" }), /entry data/);
    expectCodecError(appendWith({ data: [1, 2, 3] }), /entry data/);
    expectCodecError(appendWith({ type: 2 }), /entry type/);
    expectCodecError(appendWith({ index: -1 }), /entry term, index and chk/);
    expectCodecError(appendWith({ chk: undefined }), /entry term, index and chk/);
    expectCodecError([{ ...snapshot, data: snapshot.data.subarray(1) }], /snapshot\.data length/);
    expectCodecError([{ ...snapshot, length: 1000 }], /snapshot\.data length/);
    expectCodecError([{ ...snapshot, data: undefined }], /snapshot\.data/);
    expectCodecError([{ ...snapshot, offset: -1 }], /snapshot\.offset/);
    expectCodecError([{ ...snapshot, meta: null }], /snapshot meta/);
    expectCodecError(snapshotMetaWith({ size: -1 }), /snapshot meta .*size/);
    expectCodecError(snapshotMetaWith({ config: { voters: ["a"], outgoing: [] } }), /config/);
    expectCodecError(
      snapshotMetaWith({ config: { voters: [1], outgoing: [], learners: [] } }),
      /config/,
    );
  });

  test("codec - an append's entries must follow prevLogIndex one by one, in terms the sender may send", () => {
    const append = oneOfEach[3] as Extract<Message, { type: "append" }>;
    const [first, second, third] = append.entries;
    const withEntries = (entries: unknown[], patch: Record<string, unknown> = {}) => [
      { ...append, ...patch, entries },
    ];
    // The core asserts on a gap ("log: gap before index"): the gateway must refuse it first.
    expectCodecError(withEntries([{ ...first!, index: 12 }]), /append\.entries.*index 12/);
    expectCodecError(withEntries([first, third]), /append\.entries.*index 13/);
    expectCodecError(withEntries([second, first]), /append\.entries/);
    expectCodecError(withEntries([{ ...first!, term: 8 }]), /append\.entries.*term/);
    expectCodecError(withEntries([first, { ...second!, term: 6 }]), /append\.entries.*term/);
    expectCodecError(withEntries([first], { prevLogTerm: 8, term: 9 }), /append\.entries.*term/);
    expectCodecError(withEntries([], { prevLogTerm: 8 }), /append\.prevLogTerm/);
    expectCodecError(withEntries([], { prevLogIndex: 2 ** 53 }), /append\.prevLogIndex/);
    // Empty appends (heartbeat-like probes) and a whole valid run still pass.
    expect(decodeMessages(pack(withEntries([])))).toHaveLength(1);
    expect(decodeMessages(pack(withEntries([first, second, third])))).toHaveLength(1);
  });

  test("codec - a type named like an Object.prototype member is rejected with CodecError", () => {
    for (const type of ["toString", "constructor", "__proto__", "hasOwnProperty", "valueOf"]) {
      const result = outcome(pack([{ ...base, type }]));
      expect.soft(result.kind, `type ${JSON.stringify(type)}`).toBe("CodecError");
    }
  });

  test("codec - a non-string type is rejected with CodecError", () => {
    for (const type of [
      1,
      true,
      null,
      [],
      ["vote"],
      { toString: 1 },
      [{ toString: 1 }],
      new Uint8Array(2),
    ]) {
      const result = outcome(pack([{ ...oneOfEach[0]!, type }]));
      expect.soft(result.kind, `type ${String(JSON.stringify(type))}`).toBe("CodecError");
    }
  });
});

const RANDOM_BYTES_SEED = 1337;
const RANDOM_OBJECTS_SEED = 4242;
const MUTATED_SEED = 9001;

const KEY_NAMES = [
  ...new Set(oneOfEach.flatMap((m) => Object.keys(m))),
  "index",
  "chk",
  "size",
  "config",
  "voters",
  "outgoing",
  "learners",
  "toString",
  "valueOf",
  "constructor",
  "__proto__",
  "hasOwnProperty",
];
const TYPE_NAMES = [...ALL_TYPES, "bogus", "toString", "constructor", "__proto__", "valueOf"];

const leafArb = fc.oneof(
  fc.integer(),
  fc.nat(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(-1, 2 ** 53, 2 ** 64, 0.5, Number.NaN),
  fc.string({ maxLength: 6 }),
  fc.constantFrom(...TYPE_NAMES),
  fc.uint8Array({ maxLength: 6 }),
);
const { tree: treeArb } = fc.letrec((tie) => ({
  tree: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leafArb,
    tie("array"),
    tie("object"),
  ),
  array: fc.array(tie("tree"), { maxLength: 4 }),
  object: fc.dictionary(fc.constantFrom(...KEY_NAMES), tie("tree"), { maxKeys: 6 }),
}));

/** A valid message with 1–3 fields (at any depth) replaced by random values. */
const mutatedMessageArb = fc
  .tuple(
    fc.constantFrom(...oneOfEach),
    fc.array(
      fc.tuple(
        fc.constantFrom<readonly string[]>(
          [],
          ["entries", "0"],
          ["entries"],
          ["meta"],
          ["meta", "config"],
        ),
        fc.constantFrom(...KEY_NAMES),
        treeArb,
      ),
      { minLength: 1, maxLength: 3 },
    ),
  )
  .map(([message, patches]) => {
    const copy = clone(message) as unknown as Record<string, unknown>;
    for (const [path, key, value] of patches) {
      let target: unknown = copy;
      for (const step of path) target = (target as Record<string, unknown> | undefined)?.[step];
      if (
        typeof target === "object" &&
        target !== null &&
        !(Array.isArray(target) && key === "length")
      ) {
        Object.defineProperty(target, key, {
          value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
    }
    return copy;
  });

const packers = [
  new Packr({ useRecords: false }),
  new Packr({ useRecords: false, mapsAsObjects: true }),
];

describe("codec robustness (fast-check)", () => {
  test(`codec - random bytes only ever throw CodecError (fast-check seed ${RANDOM_BYTES_SEED})`, () => {
    const arrayHeaded = fc
      .tuple(fc.constantFrom(0x91, 0x92, 0xdc), fc.uint8Array({ maxLength: 80 }))
      .map(([head, rest]) => Uint8Array.of(head, ...rest));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 80 }), arrayHeaded), (bytes) => {
        const result = outcome(bytes);
        return result.kind === "ok" || result.kind === "CodecError";
      }),
      { seed: RANDOM_BYTES_SEED, numRuns: 5000 },
    );
  });

  test(`codec - random JSON-ish objects packed with msgpackr only ever throw CodecError (fast-check seed ${RANDOM_OBJECTS_SEED})`, () => {
    fc.assert(
      fc.property(fc.array(treeArb, { maxLength: 3 }), fc.nat(packers.length - 1), (frame, p) => {
        const result = outcome(packers[p]!.pack(frame));
        return result.kind === "ok" || result.kind === "CodecError";
      }),
      { seed: RANDOM_OBJECTS_SEED, numRuns: 3000 },
    );
  });

  test(`codec - valid messages with random fields replaced only ever throw CodecError (fast-check seed ${MUTATED_SEED})`, () => {
    fc.assert(
      fc.property(fc.array(mutatedMessageArb, { minLength: 1, maxLength: 3 }), (frame) => {
        const result = outcome(pack(frame));
        if (result.kind === "ok") {
          // What passes must be well-typed enough to round-trip.
          return outcome(encodeMessages(result.messages!)).kind === "ok";
        }
        return result.kind === "CodecError";
      }),
      { seed: MUTATED_SEED, numRuns: 3000 },
    );
  });
});

/** An append carrying one entry after prevLogIndex 10 (term 7). */
function appendOf(type: EntryType, data: Uint8Array): unknown[] {
  const e = entry(11, type, data, 0);
  return [{ ...oneOfEach[3]!, entries: [e] }];
}
const configData = (value: unknown) => encoder.encode(JSON.stringify(value));
const goodConfig = { voters: ["n1", "n2"], outgoing: [], learners: ["n3"] };

describe("codec - what the core asserts on is refused at the gateway", () => {
  test("codec - a valid config entry passes", () => {
    const frame = appendOf(EntryType.config, configData({ config: goodConfig, context: "" }));
    expect(decodeMessages(pack(frame))).toHaveLength(1);
  });

  test("codec - a config entry whose data is not JSON is refused", () => {
    expectCodecError(appendOf(EntryType.config, encoder.encode("{nope")), /config entry/);
    expectCodecError(appendOf(EntryType.config, new Uint8Array(0)), /config entry/);
  });

  test("codec - a config entry without voters, outgoing and learners as string arrays is refused", () => {
    for (const config of [
      undefined,
      null,
      { outgoing: [], learners: [] },
      { voters: ["n1"], learners: [] },
      { voters: ["n1"], outgoing: [] },
      { voters: [1], outgoing: [], learners: [] },
      { voters: ["n1"], outgoing: "n2", learners: [] },
    ]) {
      expectCodecError(appendOf(EntryType.config, configData({ config, context: "" })), /config/);
    }
    expectCodecError(appendOf(EntryType.config, configData(null)), /config entry/);
  });

  test("codec - a config entry with a duplicate member is refused", () => {
    const dup = (patch: Record<string, unknown>) =>
      appendOf(EntryType.config, configData({ config: { ...goodConfig, ...patch }, context: "" }));
    expectCodecError(dup({ voters: ["n1", "n1"] }), /duplicate/);
    expectCodecError(dup({ learners: ["n3", "n3"] }), /duplicate/);
    expectCodecError(dup({ outgoing: ["n1", "n1"] }), /duplicate/);
  });

  test("codec - a config entry with a learner that is also a voter is refused", () => {
    const both = (patch: Record<string, unknown>) =>
      appendOf(EntryType.config, configData({ config: { ...goodConfig, ...patch }, context: "" }));
    expectCodecError(both({ learners: ["n1"] }), /both voter and learner/);
    expectCodecError(both({ outgoing: ["n3"] }), /both voter and learner/);
  });

  test("codec - a config entry whose context is not a string is refused", () => {
    for (const context of [undefined, 5, null, { a: 1 }]) {
      expectCodecError(
        appendOf(EntryType.config, configData({ config: goodConfig, context })),
        /context/,
      );
    }
  });

  test("codec - a snapshot's meta config obeys the same membership rules", () => {
    const snapshot = oneOfEach[8]!;
    const withConfig = (config: unknown) => [{ ...snapshot, meta: { ...meta, config } }];
    expectCodecError(withConfig({ voters: ["a", "a"], outgoing: [], learners: [] }), /duplicate/);
    expectCodecError(withConfig({ voters: ["a"], outgoing: [], learners: ["a"] }), /both/);
  });

  test("codec - sentTick is a non-negative safe integer", () => {
    for (const sentTick of [-1, 1.5, -1.5, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY]) {
      expectCodecError([{ ...oneOfEach[3]!, sentTick }], /sentTick/);
      expectCodecError([{ ...oneOfEach[5]!, sentTick }], /sentTick/);
      expectCodecError([{ ...oneOfEach[7]!, sentTick }], /sentTick/);
    }
  });

  test("codec - a snapshot chunk may not pass the snapshot's size", () => {
    const data = new Uint8Array(256);
    const chunk = (offset: number, done: boolean) => [
      { ...base, type: "snapshot", meta, offset, length: data.length, done, data },
    ];
    expect(decodeMessages(pack(chunk(4096 - 256, true)))).toHaveLength(1);
    expectCodecError(chunk(4096 - 255, false), /snapshot chunk .*size/);
    expectCodecError(chunk(4096, true), /snapshot chunk .*size/);
    expectCodecError(chunk(2 ** 52, false), /snapshot chunk .*size/);
  });

  test("codec - a snapshot chunk is done exactly when it ends at the snapshot's size", () => {
    const data = new Uint8Array(256);
    const chunk = (offset: number, done: boolean) => [
      { ...base, type: "snapshot", meta, offset, length: data.length, done, data },
    ];
    expectCodecError(chunk(0, true), /snapshot chunk .*done/);
    expectCodecError(chunk(1024, true), /snapshot chunk .*done/);
    expect(decodeMessages(pack(chunk(1024, false)))).toHaveLength(1);
  });
});
