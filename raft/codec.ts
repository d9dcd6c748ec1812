import { Packr } from "msgpackr";
import {
  type Entry,
  EntryType,
  type MembershipConfig,
  type Message,
  type MessageType,
  type SnapshotMeta,
} from "./types.js";

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
    if (kind === "number" ? !isCount(field) : typeof field !== kind) {
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
    const { size } = m.meta as SnapshotMeta;
    validateSnapshotChunk(m.offset as number, m.data.length, m.done as boolean, size);
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
  if (e.type === EntryType.config) validateConfigEntryData(e.data, e.index as number);
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
  validateMembership(meta.config, "snapshot meta config");
  return meta as unknown as SnapshotMeta;
}

/**
 * raft/node.ts handleSnapshot appends the chunk at `offset` and installs the snapshot on
 * `done`: a chunk never passes meta.size, and the last one ends exactly there.
 */
function validateSnapshotChunk(offset: number, length: number, done: boolean, size: number) {
  if (offset + length > size)
    fail(`snapshot chunk [${offset}, ${offset + length}) passes the snapshot's size ${size}`);
  if (done && offset + length !== size)
    fail(`snapshot chunk ends at ${offset + length} but is done (size ${size})`);
}

// Non-fatal, as raft/membership.ts decodeConfigEntry decodes (what passes here decodes there).
const configDecoder = new TextDecoder();

/**
 * A config entry's data as raft/membership.ts decodeConfigEntry reads it and the core then
 * asserts on (assertValidMembership): refused here so that no peer can make the core throw.
 */
function validateConfigEntryData(data: Uint8Array, index: number): void {
  let value: unknown;
  try {
    value = JSON.parse(configDecoder.decode(data));
  } catch {
    fail(`config entry ${index}: data is not JSON`);
  }
  if (typeof value !== "object" || value === null) fail(`config entry ${index}: not an object`);
  const { config, context } = value as Record<string, unknown>;
  validateMembership(config, `config entry ${index}: config`);
  if (typeof context !== "string") fail(`config entry ${index}: context must be a string`);
}

/** Three lists of names, none repeated, learners apart from voters (old and new). */
function validateMembership(value: unknown, what: string): asserts value is MembershipConfig {
  if (typeof value !== "object" || value === null) fail(`${what} is not an object`);
  const config = value as Record<string, unknown>;
  const isIds = (ids: unknown): ids is string[] =>
    Array.isArray(ids) && ids.every((id) => typeof id === "string");
  const { voters, outgoing, learners } = config;
  if (!isIds(voters) || !isIds(outgoing) || !isIds(learners))
    fail(`${what} must list voters, outgoing and learners as strings`);
  for (const [name, ids] of [
    ["voters", voters],
    ["outgoing", outgoing],
    ["learners", learners],
  ] as const) {
    if (new Set(ids).size !== ids.length) fail(`${what}: duplicate name in ${name}`);
  }
  const voting = new Set([...voters, ...outgoing]);
  const both = learners.find((learner) => voting.has(learner));
  if (both !== undefined) fail(`${what}: ${both.slice(0, 64)} is both voter and learner`);
}
