import { Packr } from "msgpackr";
import type { Entry, Message, MessageType, SnapshotMeta } from "./types.js";

/**
 * Raft messages ⇄ bytes (MessagePack via msgpackr). A frame carries a batch of messages.
 * Decoding is the gateway: every field is checked here, and the core trusts what passes.
 */
// copyBuffers: decoded entries must not alias the frame (transports reuse their buffers).
const packr = new Packr({
  useRecords: false,
  mapsAsObjects: true,
  int64AsType: "number",
  copyBuffers: true,
});

export class CodecError extends Error {
  override readonly name = "CodecError";
}

export function encodeMessages(messages: readonly Message[]): Uint8Array {
  return packr.pack(messages);
}

export function decodeMessages(bytes: Uint8Array, maxMessages = 65_536): Message[] {
  let value: unknown;
  try {
    value = packr.unpack(bytes);
  } catch (error) {
    throw new CodecError(`undecodable frame: ${(error as Error).message}`);
  }
  if (!Array.isArray(value)) throw new CodecError("a frame must hold an array of messages");
  if (value.length > maxMessages)
    throw new CodecError(`frame holds ${value.length} messages (max ${maxMessages})`);
  return value.map(validateMessage);
}

const fieldsByType: Record<
  MessageType,
  readonly (readonly [string, "number" | "string" | "boolean"])[]
> = {
  vote: [
    ["pre", "boolean"],
    ["lastLogIndex", "number"],
    ["lastLogTerm", "number"],
    ["transfer", "boolean"],
  ],
  voteResp: [
    ["pre", "boolean"],
    ["granted", "boolean"],
  ],
  append: [
    ["prevLogIndex", "number"],
    ["prevLogTerm", "number"],
    ["leaderCommit", "number"],
    ["sentTick", "number"],
  ],
  appendResp: [
    ["reject", "boolean"],
    ["index", "number"],
    ["hintIndex", "number"],
    ["hintTerm", "number"],
    ["sentTick", "number"],
  ],
  heartbeat: [
    ["leaderCommit", "number"],
    ["readSeq", "number"],
    ["sentTick", "number"],
  ],
  heartbeatResp: [
    ["readSeq", "number"],
    ["sentTick", "number"],
  ],
  snapshot: [
    ["offset", "number"],
    ["length", "number"],
    ["done", "boolean"],
  ],
  snapshotResp: [
    ["snapshotIndex", "number"],
    ["nextOffset", "number"],
    ["reject", "boolean"],
  ],
  timeoutNow: [],
  readIndex: [["ctx", "string"]],
  readIndexResp: [
    ["ctx", "string"],
    ["ok", "boolean"],
    ["index", "number"],
  ],
};

function fail(what: string): never {
  throw new CodecError(`invalid message: ${what}`);
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function validateMessage(value: unknown): Message {
  if (typeof value !== "object" || value === null) fail("not an object");
  const m = value as Record<string, unknown>;
  if (typeof m.type !== "string" || !Object.hasOwn(fieldsByType, m.type)) {
    fail(`unknown type ${typeof m.type === "string" ? m.type.slice(0, 32) : typeof m.type}`);
  }
  const type = m.type as MessageType;
  const fields = fieldsByType[type];
  if (!isCount(m.group) || !isCount(m.term))
    fail(`${type}: group and term must be non-negative integers`);
  if (typeof m.from !== "string" || typeof m.to !== "string")
    fail(`${type}: from and to must be strings`);
  for (const [name, kind] of fields) {
    const field = m[name];
    if (
      kind === "number"
        ? !isCount(field) && !(name === "sentTick" && Number.isFinite(field))
        : typeof field !== kind
    ) {
      fail(`${type}.${name} must be a ${kind === "number" ? "non-negative integer" : kind}`);
    }
  }
  if (type === "append") {
    if (!Array.isArray(m.entries)) fail("append.entries must be an array");
    m.entries = (m.entries as unknown[]).map(validateEntry);
    validateAppendRun(m);
  }
  if (type === "snapshot") {
    m.meta = validateSnapshotMeta(m.meta);
    if (!(m.data instanceof Uint8Array)) fail("snapshot.data must be bytes");
    if (m.data.length !== m.length) fail("snapshot.data length differs from its header");
  }
  return m as unknown as Message;
}

/**
 * The shape the core relies on (it asserts there is no gap): entries follow prevLogIndex one
 * by one, and terms never go back nor pass the sender's term, as in any leader's log.
 */
function validateAppendRun(m: Record<string, unknown>): void {
  const term = m.term as number;
  const prevLogIndex = m.prevLogIndex as number;
  let lastTerm = m.prevLogTerm as number;
  if (lastTerm > term) fail(`append.prevLogTerm ${lastTerm} is past the message's term ${term}`);
  for (const [k, entry] of (m.entries as Entry[]).entries()) {
    if (entry.index !== prevLogIndex + 1 + k)
      fail(`append.entries: index ${entry.index} where ${prevLogIndex + 1 + k} must follow`);
    if (entry.term < lastTerm || entry.term > term)
      fail(
        `append.entries: term ${entry.term} at index ${entry.index} out of [${lastTerm}, ${term}]`,
      );
    lastTerm = entry.term;
  }
}

function validateEntry(value: unknown): Entry {
  if (typeof value !== "object" || value === null) fail("entry is not an object");
  const e = value as Record<string, unknown>;
  if (!isCount(e.term) || !isCount(e.index) || !isCount(e.chk))
    fail("entry term, index and chk must be integers");
  if (e.type !== 0 && e.type !== 1) fail("entry type must be 0 or 1");
  if (!(e.data instanceof Uint8Array)) fail("entry data must be bytes");
  return e as unknown as Entry;
}

function validateSnapshotMeta(value: unknown): SnapshotMeta {
  if (typeof value !== "object" || value === null) fail("snapshot meta is not an object");
  const meta = value as Record<string, unknown>;
  if (!isCount(meta.index) || !isCount(meta.term) || !isCount(meta.chk) || !isCount(meta.size)) {
    fail("snapshot meta index, term, chk and size must be integers");
  }
  if (meta.configContext !== undefined && typeof meta.configContext !== "string") {
    fail("snapshot meta configContext must be a string");
  }
  const config = meta.config as Record<string, unknown> | undefined;
  const isIds = (ids: unknown) => Array.isArray(ids) && ids.every((id) => typeof id === "string");
  if (!config || !isIds(config.voters) || !isIds(config.outgoing) || !isIds(config.learners)) {
    fail("snapshot meta config must list voters, outgoing and learners");
  }
  return meta as unknown as SnapshotMeta;
}
