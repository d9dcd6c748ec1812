import { assert } from "./assert.js";
import type { SnapshotMeta } from "./types.js";

/**
 * The last indices of AppendEntries sent but not yet acknowledged, oldest first: a fixed
 * ring, so pipelining is bounded per follower.
 */
export class Inflights {
  private readonly ring: number[];
  private start = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    assert(capacity >= 1, "inflights: capacity must be >= 1");
    this.ring = new Array<number>(capacity).fill(0);
  }

  get size(): number {
    return this.count;
  }

  full(): boolean {
    return this.count === this.capacity;
  }

  add(lastIndex: number): void {
    assert(!this.full(), "inflights: add to a full ring");
    this.ring[(this.start + this.count) % this.capacity] = lastIndex;
    this.count++;
  }

  /** Free every message whose last index is <= `index` (acknowledged). */
  freeLE(index: number): void {
    while (this.count > 0 && (this.ring[this.start] ?? 0) <= index) {
      this.start = (this.start + 1) % this.capacity;
      this.count--;
    }
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
  }
}

export type ProgressState = "probe" | "replicate" | "snapshot";

/** An InstallSnapshot being streamed to one follower, chunk by chunk. */
export interface SnapshotTransfer {
  meta: SnapshotMeta;
  /** Offset the follower has acknowledged up to. */
  ackedOffset: number;
  /** Tick at which the chunk in flight was sent, or null when none is in flight. */
  sentTick: number | null;
}

/** A follower's progress as the owner may read it (dashboards, tests). */
export type ProgressView = Readonly<
  Pick<
    Progress,
    "matchIndex" | "nextIndex" | "state" | "recentActive" | "ackedSentTick" | "snapshot"
  >
> & { readonly inflights: Pick<Inflights, "size" | "full" | "capacity"> };

/**
 * The leader's view of one follower (§5.3 nextIndex / matchIndex, plus etcd's flow states):
 * - probe: one AppendEntries at a time until the logs are found to agree;
 * - replicate: optimistic nextIndex, up to maxInflight messages in flight;
 * - snapshot: entries are compacted away; InstallSnapshot is streamed instead.
 * Invariant: matchIndex < nextIndex.
 */
export class Progress {
  matchIndex = 0;
  nextIndex: number;
  state: ProgressState = "probe";
  /** In probe, one message is out and no more go until a response or heartbeat reply. */
  probeSent = false;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** Highest leader tick echoed back by this follower: the base of the leader lease. */
  ackedSentTick = Number.NEGATIVE_INFINITY;
  /** Highest ReadIndex round this follower confirmed. */
  ackedReadSeq = 0;
  /** Tick of the last ack that moved matchIndex: a stalled window is re-probed. */
  lastProgressTick = 0;
  snapshot: SnapshotTransfer | null = null;
  readonly inflights: Inflights;

  constructor(nextIndex: number, maxInflight: number) {
    this.nextIndex = nextIndex;
    this.inflights = new Inflights(maxInflight);
  }

  becomeProbe(): void {
    const snapshotIndex = this.snapshot?.meta.index;
    this.state = "probe";
    this.probeSent = false;
    this.snapshot = null;
    this.inflights.reset();
    this.nextIndex = Math.max(this.matchIndex + 1, (snapshotIndex ?? 0) + 1);
  }

  becomeReplicate(): void {
    this.state = "replicate";
    this.probeSent = false;
    this.snapshot = null;
    this.inflights.reset();
    this.nextIndex = this.matchIndex + 1;
  }

  becomeSnapshot(meta: SnapshotMeta): void {
    this.state = "snapshot";
    this.probeSent = false;
    this.inflights.reset();
    this.snapshot = { meta, ackedOffset: 0, sentTick: null };
  }

  /** A success ack: returns true if matchIndex moved. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.matchIndex) {
      this.matchIndex = index;
      updated = true;
      this.probeSent = false;
    }
    this.nextIndex = Math.max(this.nextIndex, index + 1);
    return updated;
  }

  /**
   * A rejection of prevLogIndex `rejected`; `matchHint` is the highest index where the logs
   * may agree. Returns false when the rejection is stale and must be ignored.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === "replicate") {
      if (rejected <= this.matchIndex) return false;
      this.nextIndex = this.matchIndex + 1;
      return true;
    }
    if (this.nextIndex - 1 !== rejected) return false;
    this.nextIndex = Math.max(Math.min(rejected, matchHint + 1), this.matchIndex + 1);
    this.probeSent = false;
    return true;
  }

  /**
   * A rejection at or below matchIndex whose hint lies below it: the follower acknowledged
   * entries it no longer holds (its storage lost them; Raft assumes it cannot, so etcd's
   * MaybeDecrTo ignores such a rejection as stale, and the follower would stay behind for
   * good). matchIndex falls to the hint and the follower is probed from there. Returns true
   * when that happened.
   */
  maybeLostEntries(rejected: number, matchHint: number): boolean {
    if (this.state === "snapshot" || rejected > this.matchIndex || matchHint >= this.matchIndex)
      return false;
    this.matchIndex = matchHint;
    this.becomeProbe();
    return true;
  }

  /** May another AppendEntries go to this follower now? */
  isPaused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.inflights.full();
      case "snapshot":
        return true;
    }
  }

  /** Record an AppendEntries carrying entries up to `lastIndex` (or none). */
  sentEntries(lastIndex: number | undefined): void {
    if (this.state === "replicate") {
      if (lastIndex !== undefined) {
        this.nextIndex = lastIndex + 1;
        this.inflights.add(lastIndex);
      }
    } else {
      this.probeSent = true;
    }
  }
}
