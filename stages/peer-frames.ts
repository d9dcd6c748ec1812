/**
 * Frames on the peer port (TCP): [length u32 BE][kind u8][payload], length counting kind and
 * payload. The first frame on a connection is a hello that names the sender and carries the
 * peer token; then Raft message batches (msgpack) and forwarded client requests (JSON).
 */

/** removed: the leader tells a node it is no longer a member (stages/removal.ts). */
export const FrameKind = { hello: 1, raft: 2, forward: 3, forwardReply: 4, removed: 5 } as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

export interface Hello {
  readonly name: string;
  readonly clientAddress: string;
  readonly token: string | null;
}

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

export function decodeJson<T>(payload: Uint8Array): T {
  return JSON.parse(decoder.decode(payload)) as T;
}

/**
 * Splits a byte stream into frames. Bounded: a frame longer than maxFrameBytes is an error
 * (the connection is closed) rather than a buffer that grows without limit.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxFrameBytes: number) {}

  push(chunk: Buffer): { kind: number; payload: Buffer }[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: { kind: number; payload: Buffer }[] = [];
    for (;;) {
      if (this.buffered < 4) return frames;
      const head = this.chunks.length === 1 ? this.chunks[0]! : this.flatten();
      const length = head.readUInt32BE(0);
      if (length < 1 || length > this.maxFrameBytes) {
        throw new FrameError(`peer frame of ${length} bytes (limit ${this.maxFrameBytes})`);
      }
      if (this.buffered < 4 + length) return frames;
      const all = this.flatten();
      frames.push({ kind: all[4]!, payload: all.subarray(5, 4 + length) });
      const rest = all.subarray(4 + length);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
    }
  }

  private flatten(): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.chunks = [all];
    return all;
  }
}
