import type { RequestId } from "../protocol.js";
import type { RemovedNotice } from "../raft-step/removal.js";

/**
 * Frames on the peer port (TCP): [length u32 BE][kind u8][payload], length counting kind and
 * payload. The first frame on a connection is a hello that names the sender and carries the
 * peer token; then Raft message batches (msgpack) and forwarded client requests (JSON).
 * Decoders here are the gateway's checks: what they return has every field of the right type.
 */

/** removed: the leader tells a node it is no longer a member (stages/raft-step/removal.ts). */
export const FrameKind = { hello: 1, raft: 2, forward: 3, forwardReply: 4, removed: 5 } as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

export interface Hello {
  readonly name: string;
  readonly clientAddress: string;
  readonly token: string | null;
}

/** A client request a follower forwards to the leader. */
export interface Forward {
  readonly forwardId: number;
  readonly id: RequestId;
  /** The request's fields; the leader decodes them again as a client frame. */
  readonly request: Record<string, unknown>;
  readonly admin: boolean;
}

/** The leader's answer to a forwarded request: the reply text for the follower's client. */
export interface ForwardReply {
  readonly forwardId: number;
  readonly text: string;
}

export type Decoded<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: string };

/** As config.ts's node names and host:port addresses (a hello must not carry anything else). */
const nodeNamePattern = /^[A-Za-z0-9_.-]{1,64}$/;
const hostPortPattern = /^[^:\s\p{Cc}]{1,253}:(\d{1,5})$/u;
/** As protocol.ts's request ids. */
const requestIdBytesMax = 256;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class FrameError extends Error {
  override readonly name = "FrameError";
}

export function encodeFrame(kind: FrameKind, payload: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(5 + payload.length);
  frame.writeUInt32BE(1 + payload.length, 0);
  frame[4] = kind;
  frame.set(payload, 5);
  return frame;
}

export function encodeJsonFrame(kind: FrameKind, value: unknown): Buffer {
  return encodeFrame(kind, encoder.encode(JSON.stringify(value)));
}

/** A JSON object's fields, or null for anything else (bad JSON, null, an array, a scalar). */
function decodeObject(payload: Uint8Array): Record<string, unknown> | null {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(payload));
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  return value as Record<string, unknown>;
}

export function isNodeName(value: unknown): value is string {
  return typeof value === "string" && nodeNamePattern.test(value);
}

export function isHostPort(value: unknown): value is string {
  if (typeof value !== "string") return false;
  const match = hostPortPattern.exec(value);
  return match !== null && Number(match[1]) <= 65_535;
}

/** A non-negative safe integer (forward ids, terms, indexes). */
function isForwardId(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function isRequestId(value: unknown): value is RequestId {
  return (
    (typeof value === "number" && Number.isFinite(value)) ||
    (typeof value === "string" && value.length <= requestIdBytesMax)
  );
}

/** The hello's shape only; the token and the name's standing are the gateway's to judge. */
export function decodeHello(payload: Uint8Array): Decoded<Hello> {
  const fields = decodeObject(payload);
  if (fields === null) return { ok: false, reason: "the hello is not a JSON object" };
  const { name, clientAddress, token } = fields;
  if (!isNodeName(name)) return { ok: false, reason: "the hello's name is not a node name" };
  if (!isHostPort(clientAddress))
    return { ok: false, reason: "the hello's clientAddress is not host:port" };
  if (token !== undefined && token !== null && typeof token !== "string")
    return { ok: false, reason: "the hello's token is not a string" };
  // A fresh object: nothing but these three fields travels on.
  return { ok: true, value: { name, clientAddress, token: token ?? null } };
}

export function decodeForward(payload: Uint8Array): Decoded<Forward> {
  const fields = decodeObject(payload);
  if (fields === null) return { ok: false, reason: "a forward frame is not a JSON object" };
  const { forwardId, id, request, admin } = fields;
  if (!isForwardId(forwardId))
    return { ok: false, reason: "a forward's forwardId is not a non-negative integer" };
  if (!isRequestId(id)) return { ok: false, reason: "a forward's id is not a request id" };
  if (typeof request !== "object" || request === null || Array.isArray(request))
    return { ok: false, reason: "a forward's request is not an object" };
  if (admin !== undefined && typeof admin !== "boolean")
    return { ok: false, reason: "a forward's admin flag is not a boolean" };
  return {
    ok: true,
    value: { forwardId, id, request: request as Record<string, unknown>, admin: admin === true },
  };
}

export function decodeForwardReply(payload: Uint8Array): Decoded<ForwardReply> {
  const fields = decodeObject(payload);
  if (fields === null) return { ok: false, reason: "a forward reply is not a JSON object" };
  const { forwardId, text } = fields;
  if (!isForwardId(forwardId))
    return { ok: false, reason: "a forward reply's forwardId is not a non-negative integer" };
  if (typeof text !== "string")
    return { ok: false, reason: "a forward reply's text is not a string" };
  return { ok: true, value: { forwardId, text } };
}

export function decodeRemovedNotice(payload: Uint8Array): Decoded<RemovedNotice> {
  const fields = decodeObject(payload);
  if (fields === null) return { ok: false, reason: "a removal notice is not a JSON object" };
  const { term, commitIndex } = fields;
  if (!isForwardId(term) || !isForwardId(commitIndex))
    return { ok: false, reason: "a removal notice's term or commitIndex is not a count" };
  return { ok: true, value: { term, commitIndex } };
}

/** One frame off the wire: its kind byte and its payload (which may share the input chunk). */
export interface PeerFrame {
  readonly kind: number;
  readonly payload: Buffer;
}

/**
 * Splits a byte stream into frames. Linear: chunks are kept as they arrive and a frame's bytes
 * are assembled once, when all of them are here (a frame inside one chunk is not copied at
 * all). Bounded: a length past the limit is an error as soon as its 4 bytes arrive, before
 * anything is kept for it. The limit may change between frames (small until the hello is
 * checked), so frames are pulled one at a time.
 */
export class FrameReader {
  // Invariant: chunks before `head` are read; chunks[head] is unread from headOffset on
  // (headOffset < its length); buffered counts the unread bytes.
  private chunks: Buffer[] = [];
  private head = 0;
  private headOffset = 0;
  private buffered = 0;
  /** Bytes copied to assemble frames that spanned chunks: each byte at most once. */
  bytesCopied = 0;

  constructor(private maxFrameBytes: number) {}

  get bufferedBytes(): number {
    return this.buffered;
  }

  /** The largest frame (kind and payload) accepted from the next frame on. */
  setLimit(maxFrameBytes: number): void {
    this.maxFrameBytes = maxFrameBytes;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** The next whole frame, or null until more bytes arrive. FrameError on a bad length. */
  next(): PeerFrame | null {
    if (this.buffered < 4) return null;
    const length = this.peekLength();
    if (length < 1 || length > this.maxFrameBytes) {
      throw new FrameError(`peer frame of ${length} bytes (limit ${this.maxFrameBytes})`);
    }
    if (this.buffered < 4 + length) return null;
    this.skip(4);
    const bytes = this.take(length);
    return { kind: bytes[0]!, payload: bytes.subarray(1) };
  }

  /** The big-endian u32 at the read position; its 4 bytes may span chunks. */
  private peekLength(): number {
    let length = 0;
    let got = 0;
    for (let k = this.head, offset = this.headOffset; got < 4; k++, offset = 0) {
      const chunk = this.chunks[k]!;
      for (; offset < chunk.length && got < 4; offset++, got++) {
        length = length * 256 + chunk[offset]!;
      }
    }
    return length;
  }

  private skip(count: number): void {
    let k = this.head;
    let offset = this.headOffset;
    for (let missing = count; missing > 0; ) {
      const chunk = this.chunks[k]!;
      const step = Math.min(missing, chunk.length - offset);
      missing -= step;
      offset += step;
      if (offset === chunk.length) {
        k++;
        offset = 0;
      }
    }
    this.consumed(k, offset, count);
  }

  /** Consume `count` buffered bytes: a view when they lie in one chunk, else one copy. */
  private take(count: number): Buffer {
    const first = this.chunks[this.head]!;
    if (first.length - this.headOffset >= count) {
      const bytes = first.subarray(this.headOffset, this.headOffset + count);
      this.consumed(this.head, this.headOffset + count, count);
      return bytes;
    }
    const pieces: Buffer[] = [];
    let k = this.head;
    let offset = this.headOffset;
    for (let missing = count; missing > 0; ) {
      const chunk = this.chunks[k]!;
      const piece = chunk.subarray(offset, offset + missing);
      pieces.push(piece);
      missing -= piece.length;
      offset += piece.length;
      if (offset === chunk.length) {
        k++;
        offset = 0;
      }
    }
    this.consumed(k, offset, count);
    this.bytesCopied += count;
    return Buffer.concat(pieces, count);
  }

  /** The read position moved `count` bytes on, to chunks[k] at `offset`. */
  private consumed(k: number, offset: number, count: number): void {
    this.head = k;
    this.headOffset = offset;
    if (offset === this.chunks[k]?.length) {
      this.head++;
      this.headOffset = 0;
    }
    this.buffered -= count;
    // Drop read chunks once they are most of the list: amortised O(1) per chunk.
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    } else if (this.head >= 64 && this.head * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}
