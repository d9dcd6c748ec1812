import { inRange, type KeySpan } from "../../storage/engines/engine.js";
import type { KeyValue, KvChanges, KvEvent } from "../../storage/engines/revisions.js";
import type { WatchRequest } from "../protocol.js";

/** What a watch looks at and how its events are shaped (the request's fields). */
export interface WatchSpec {
  readonly key?: string;
  readonly prefix?: string;
  readonly start?: string;
  readonly end?: string;
  readonly prevKv: boolean;
  readonly noPut: boolean;
  readonly noDelete: boolean;
}

export function specOf(request: WatchRequest): WatchSpec {
  const { key, prefix, start, end, prevKv, noPut, noDelete } = request;
  return { key, prefix, start, end, prevKv, noPut, noDelete };
}

/** The watch's keys as a history read's span (a single key: [key, key + "\0")). */
export function rangeOf(spec: WatchSpec): KeySpan {
  if (spec.key !== undefined) return { start: spec.key, end: `${spec.key}\u0000` };
  if (spec.prefix !== undefined) return { prefix: spec.prefix };
  return { start: spec.start, end: spec.end };
}

/** An event as a watch frame carries it: prevKv only when the watch asked for it. */
export interface WireEvent {
  readonly type: "put" | "delete";
  readonly kv: KeyValue;
  readonly prevKv?: KeyValue;
}

/** Keys that start with U+0000 are the server's own (session records): never watched. */
function reserved(key: string): boolean {
  return key.charCodeAt(0) === 0;
}

export function matches(spec: WatchSpec, event: KvEvent): boolean {
  if (event.type === "put" ? spec.noPut : spec.noDelete) return false;
  const { key } = event.kv;
  if (spec.key !== undefined) return key === spec.key;
  if (reserved(key)) return false;
  return inRange(key, { prefix: spec.prefix, start: spec.start, end: spec.end });
}

export function toWire(spec: WatchSpec, event: KvEvent): WireEvent {
  if (spec.prevKv && event.prevKv !== null)
    return { type: event.type, kv: event.kv, prevKv: event.prevKv };
  return { type: event.type, kv: event.kv };
}

/** The events of `changes` that `spec` selects, shaped for the wire, in revision order. */
export function select(spec: WatchSpec, changes: readonly KvChanges[]): WireEvent[] {
  const out: WireEvent[] = [];
  for (const change of changes)
    for (const event of change.events) if (matches(spec, event)) out.push(toWire(spec, event));
  return out;
}

/** About the bytes an event takes on the wire (the buffer bounds count these). */
export function eventBytes(event: WireEvent): number {
  let bytes = 96 + event.kv.key.length + event.kv.value.length;
  if (event.prevKv) bytes += 64 + event.prevKv.key.length + event.prevKv.value.length;
  return bytes;
}

/** A frame of events; `fragment`: more frames of the same revision follow. */
export interface FrameCut {
  readonly events: WireEvent[];
  /** Every change of the watch up to here is in this frame or before it. */
  readonly revision: number;
  readonly bytes: number;
  readonly fragment?: true;
}

/**
 * Cut events (revision order) into frames of about `maxBytes`: a frame's revision promises
 * every change up to it, so one that ends early carries its last event's revision. A revision
 * larger than a frame (a txn, a range delete) is cut too, as etcd fragments a large watch
 * response: those frames but the last say `fragment` and promise only the revision before it
 * (a client resuming from there gets the whole revision again).
 */
export function splitFrames(
  events: readonly WireEvent[],
  revision: number,
  maxBytes: number,
): FrameCut[] {
  const frames: FrameCut[] = [];
  let current: WireEvent[] = [];
  let bytes = 64;
  for (let k = 0; k < events.length; k++) {
    const event = events[k]!;
    current.push(event);
    bytes += eventBytes(event);
    const next = events[k + 1];
    if (next === undefined || bytes < maxBytes) continue;
    const at = event.kv.modRevision;
    frames.push(
      next.kv.modRevision > at
        ? { events: current, revision: at, bytes }
        : { events: current, revision: at - 1, bytes, fragment: true },
    );
    current = [];
    bytes = 64;
  }
  frames.push({ events: current, revision, bytes });
  return frames;
}

/**
 * Can `event` go out in a frame of at most `maxChars` characters of JSON? Each UTF-16 unit
 * encodes as at most 6 ("\u0001"), so only an event near the bound is encoded to measure it;
 * past V8's string limit (2^29 - 24) JSON.stringify throws.
 */
export function encodable(event: WireEvent, maxChars: number): boolean {
  if (eventBytes(event) * 6 <= maxChars) return true;
  try {
    return JSON.stringify(event).length <= maxChars;
  } catch {
    return false;
  }
}

/** Watches grouped by a string (a key, or a prefix). */
class Groups<W> {
  private readonly groups = new Map<string, Set<W>>();

  get size(): number {
    return this.groups.size;
  }

  add(name: string, watch: W): void {
    const group = this.groups.get(name);
    if (group === undefined) this.groups.set(name, new Set([watch]));
    else group.add(watch);
  }

  /** True when the group is gone (it held only this watch). */
  delete(name: string, watch: W): boolean {
    const group = this.groups.get(name);
    group?.delete(watch);
    if (group?.size !== 0) return false;
    this.groups.delete(name);
    return true;
  }

  get(name: string): Set<W> | undefined {
    return this.groups.get(name);
  }
}

/**
 * Watches by what they look at, so that idle watchers cost little: single-key watches (etcd's
 * common case) sit in a map by key, prefix watches in a map by prefix looked up once per
 * distinct prefix length, so a change costs a few lookups whatever the number of watchers.
 * Start/end ranges (rarer) are checked one by one.
 */
export class WatchIndex<W extends { readonly spec: WatchSpec }> {
  private readonly byKey = new Groups<W>();
  private readonly byPrefix = new Groups<W>();
  /** The distinct prefix lengths (UTF-16 units), with how many prefixes have each. */
  private readonly prefixLengths = new Map<number, number>();
  private readonly ranges = new Set<W>();

  add(watch: W): void {
    const { key, prefix } = watch.spec;
    if (key !== undefined) this.byKey.add(key, watch);
    else if (prefix === undefined) this.ranges.add(watch);
    else {
      if (this.byPrefix.get(prefix) === undefined)
        this.prefixLengths.set(prefix.length, (this.prefixLengths.get(prefix.length) ?? 0) + 1);
      this.byPrefix.add(prefix, watch);
    }
  }

  delete(watch: W): void {
    const { key, prefix } = watch.spec;
    if (key !== undefined) this.byKey.delete(key, watch);
    else if (prefix === undefined) this.ranges.delete(watch);
    else if (this.byPrefix.delete(prefix, watch)) {
      const count = this.prefixLengths.get(prefix.length)! - 1;
      if (count === 0) this.prefixLengths.delete(prefix.length);
      else this.prefixLengths.set(prefix.length, count);
    }
  }

  /**
   * The events each watch selects from `changes`, shaped, in revision order. An event's
   * revision is its kv.modRevision (a delete's too).
   */
  route(changes: readonly KvChanges[]): Map<W, WireEvent[]> {
    const routed = new Map<W, WireEvent[]>();
    if (this.byKey.size === 0 && this.byPrefix.size === 0 && this.ranges.size === 0) return routed;
    const add = (watches: Iterable<W> | undefined, event: KvEvent) => {
      if (watches === undefined) return;
      for (const watch of watches) {
        if (!matches(watch.spec, event)) continue;
        const events = routed.get(watch);
        if (events === undefined) routed.set(watch, [toWire(watch.spec, event)]);
        else events.push(toWire(watch.spec, event));
      }
    };
    for (const change of changes)
      for (const event of change.events) {
        const { key } = event.kv;
        add(this.byKey.get(key), event);
        for (const length of this.prefixLengths.keys())
          if (length <= key.length) add(this.byPrefix.get(key.slice(0, length)), event);
        add(this.ranges, event);
      }
    return routed;
  }
}
