import type { Clock } from "../../queues/clock.js";
import type { RespondPort } from "../items.js";
import type { RequestId } from "../protocol.js";
import type { FrameCut, WatchSpec, WireEvent } from "./watch-index.js";

/** The watch hub's state and settings (watch-hub.ts). */

/** The hub's timers: the stages' Clock (the node's, or remu's virtual one; tests a manual one). */
export type WatchScheduler = Pick<Clock, "every">;

export interface WatchHubOptions {
  /** An idle watch gets a progress frame this often (config watch.progressIntervalMs). */
  readonly progressIntervalMs: number;
  /** Frames held for one connection that is not reading before a watch of it is cancelled. */
  readonly maxPendingBytesPerConnection: number;
  /**
   * Live changes the catching-up watches of one connection hold together while their history
   * reads are out (past it, a watch's are dropped and read from the history instead).
   */
  readonly maxCatchupBufferBytes: number;
  /** Events asked of one history read. */
  readonly historyBatchEvents: number;
  readonly maxWatchesPerConnection: number;
  /** How often watches held back by a full connection try again. */
  readonly flushIntervalMs: number;
  /** Frames are cut at about this size (a revision larger than that in fragments). */
  readonly maxFrameBytes: number;
  /** An event whose JSON is longer cancels its watch (TOO_LARGE): no frame could carry it. */
  readonly maxEventChars: number;
}

export const defaultWatchHubOptions: Omit<WatchHubOptions, "progressIntervalMs"> = {
  maxPendingBytesPerConnection: 4 << 20,
  maxCatchupBufferBytes: 4 << 20,
  historyBatchEvents: 128,
  maxWatchesPerConnection: 10_000,
  flushIntervalMs: 20,
  maxFrameBytes: 1 << 20,
  // V8's string limit (2^29 - 24) less room for the rest of the event's frame.
  maxEventChars: (1 << 29) - (16 << 20),
};

/** canceledSlow / canceledTooLarge: watches the hub ended (read too slowly; an event too large). */
export function newHubStats() {
  return {
    watches: 0,
    created: 0,
    frames: 0,
    events: 0,
    canceledSlow: 0,
    canceledTooLarge: 0,
    compacted: 0,
  };
}

export type WatchRespond = Required<Pick<RespondPort, "reply" | "push" | "room">>;

export type Frame = FrameCut;

export interface Watch {
  readonly id: number;
  readonly connId: number;
  readonly spec: WatchSpec;
  /** The first revision the watch delivers (its startRevision). */
  readonly from: number;
  mode: "live" | "catchup";
  /** Frames are made through this revision (live: at least; see throughOf). */
  through: number;
  /** Frames handed to respond through this revision: a cancelled watch resumes after it. */
  handedThrough: number;
  /** Frames waiting for the connection to read what it was sent (bounded per connection). */
  pending: Frame[];
  /** Catching up: the live events that arrived meanwhile, all of those after bufferFrom. */
  buffer: WireEvent[];
  bufferFrom: number;
  bufferBytes: number;
  /** A history read is out; `generation` discards one a restore made stale. */
  reading: boolean;
  generation: number;
  /** The create request, answered once the first history read shows the start is kept. */
  createReply: RequestId | null;
  /** Sent a frame since the last progress tick. */
  busy: boolean;
  closed: boolean;
}

export interface Connection {
  readonly watches: Map<number, Watch>;
  pendingBytes: number;
  /** Its watches' catch-up buffers (bufferBytes) together. */
  bufferBytes: number;
}

/** A new watch from `from` on, live (a caller starting it in the past puts it in catch-up). */
export function newWatch(
  id: number,
  connId: number,
  spec: WatchSpec,
  from: number,
  applied: number,
): Watch {
  return {
    id,
    connId,
    spec,
    from,
    mode: "live",
    through: Math.max(from - 1, applied),
    handedThrough: from - 1,
    pending: [],
    buffer: [],
    bufferFrom: 0,
    bufferBytes: 0,
    reading: false,
    generation: 0,
    createReply: null,
    busy: false,
    closed: false,
  };
}
