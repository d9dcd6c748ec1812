import {
  assert,
  type Entry,
  type HardState,
  type MembershipConfig,
  type NodeId,
  RaftNode,
  type RaftSettings,
  type Ready,
  raftConfig,
  type SnapshotMeta,
} from "../../raft/mod.js";
import { SeededRandom } from "../../raft/rand.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The simulated disk: what survives a crash. Written only when a Ready's write completes. */
export interface DurableState {
  hardState: HardState;
  snapshot: { meta: SnapshotMeta; data: Uint8Array } | null;
  /** Invariant: entries[k].index === entriesBase + 1 + k. */
  entries: Entry[];
  entriesBase: number;
  /** Chunks of an InstallSnapshot received so far. */
  incoming: { meta: SnapshotMeta; parts: Uint8Array[] } | null;
}

/**
 * The replicated state machine of remu: a string map. An entry "key=value" sets a key; any
 * other non-empty entry sets itself to its index. It keeps the chain checksum it applied.
 */
export class KvStateMachine {
  values = new Map<string, string>();
  appliedIndex = 0;
  appliedChk = 0;

  apply(entry: Entry): void {
    assert(
      entry.index === this.appliedIndex + 1,
      `state machine: applied ${entry.index} after ${this.appliedIndex}`,
    );
    this.appliedIndex = entry.index;
    this.appliedChk = entry.chk;
    if (entry.type !== 0 || entry.data.length === 0) return;
    const text = decoder.decode(entry.data);
    const eq = text.indexOf("=");
    if (eq > 0) this.values.set(text.slice(0, eq), text.slice(eq + 1));
    else this.values.set(text, String(entry.index));
  }

  serialize(): Uint8Array {
    return encoder.encode(
      JSON.stringify({ index: this.appliedIndex, chk: this.appliedChk, values: [...this.values] }),
    );
  }

  restore(data: Uint8Array, meta: SnapshotMeta): void {
    const parsed = JSON.parse(decoder.decode(data)) as {
      index: number;
      chk: number;
      values: [string, string][];
    };
    assert(
      parsed.index === meta.index && parsed.chk === meta.chk,
      "snapshot data does not match its meta",
    );
    this.values = new Map(parsed.values);
    this.appliedIndex = parsed.index;
    this.appliedChk = parsed.chk;
  }
}

export interface PendingWrite {
  readonly ready: Ready;
  readonly doneAt: number;
}

/** One emulated server: a RaftNode (while up), its disk, its state machine and its clock. */
export class SimNode {
  raft: RaftNode | null = null;
  incarnation = 0;
  readonly durable: DurableState = {
    hardState: { term: 0, vote: null, commit: 0 },
    snapshot: null,
    entries: [],
    entriesBase: 0,
    incoming: null,
  };
  stateMachine = new KvStateMachine();
  pendingWrites: PendingWrite[] = [];
  /** Snapshot chunks of Readys not yet durable, so the state machine can restore at once. */
  private volatileIncoming: { meta: SnapshotMeta; parts: Uint8Array[] } | null = null;
  readonly tickIntervalMs: number;
  private readonly random: SeededRandom;

  constructor(
    readonly id: NodeId,
    readonly seed: number,
    private readonly settings: Partial<RaftSettings>,
    private readonly initialConfig: MembershipConfig,
    tickIntervalMs: number,
  ) {
    this.random = new SeededRandom(seed);
    this.tickIntervalMs = tickIntervalMs;
  }

  get up(): boolean {
    return this.raft !== null;
  }

  /** Boot (or reboot) from the durable state alone. */
  start(): RaftNode {
    assert(this.raft === null, `${this.id} is already up`);
    this.incarnation++;
    const durable = this.durable;
    this.stateMachine = new KvStateMachine();
    if (durable.snapshot) this.stateMachine.restore(durable.snapshot.data, durable.snapshot.meta);
    const config = raftConfig(
      { id: this.id, group: 1, initialConfig: this.initialConfig },
      this.settings,
    );
    const random = new SeededRandom(this.random.next32());
    this.raft = new RaftNode(config, random, {
      hardState: durable.hardState,
      snapshot: durable.snapshot?.meta ?? null,
      entries: durable.entries,
      applied: durable.snapshot?.meta.index ?? 0,
    });
    this.pendingWrites = [];
    this.volatileIncoming = null; // the core forgot the transfer too: it restarts at offset 0
    return this.raft;
  }

  /** Power loss: everything not durable is gone. */
  crash(): void {
    this.raft = null;
    this.pendingWrites = [];
    this.volatileIncoming = null;
  }

  /** Track snapshot chunks and install a received snapshot into the state machine at once. */
  absorbSnapshot(ready: Ready): void {
    for (const chunk of ready.snapshotChunks) {
      if (chunk.offset === 0) this.volatileIncoming = { meta: chunk.meta, parts: [] };
      this.volatileIncoming?.parts.push(chunk.data);
    }
    if (ready.snapshot !== null) {
      const incoming = this.volatileIncoming;
      assert(
        incoming?.meta.index === ready.snapshot.index,
        "snapshot installed without its chunks",
      );
      this.stateMachine.restore(concat(incoming.parts), ready.snapshot);
      this.volatileIncoming = null;
    }
  }

  /** The disk write of `ready` completes. */
  persist(ready: Ready): void {
    const durable = this.durable;
    for (const chunk of ready.snapshotChunks) {
      if (chunk.offset === 0) durable.incoming = { meta: chunk.meta, parts: [] };
      durable.incoming?.parts.push(chunk.data);
    }
    if (ready.snapshot !== null) {
      const incoming = durable.incoming;
      assert(incoming?.meta.index === ready.snapshot.index, "durable snapshot without its chunks");
      durable.snapshot = { meta: ready.snapshot, data: concat(incoming.parts) };
      durable.entries = [];
      durable.entriesBase = ready.snapshot.index;
      durable.incoming = null;
    } else if (ready.snapshotChunks.at(-1)?.done) {
      durable.incoming = null; // the log already held the snapshot's entries
    }
    if (ready.hardState !== null) durable.hardState = ready.hardState;
    const first = ready.entries[0];
    if (first !== undefined) {
      const keep = first.index - durable.entriesBase - 1;
      assert(
        keep >= 0,
        `durable write at ${first.index} below the compacted base ${durable.entriesBase}`,
      );
      assert(keep <= durable.entries.length, `durable write at ${first.index} leaves a gap`);
      durable.entries.length = keep;
      durable.entries.push(...ready.entries);
    }
  }

  /** Snapshot the state machine and compact, as the apply stage does every N entries. */
  takeSnapshot(retainEntries: number): SnapshotMeta {
    const raft = this.raft!;
    const data = this.stateMachine.serialize();
    const meta = raft.compact(this.stateMachine.appliedIndex, data.length, retainEntries);
    this.durable.snapshot = { meta, data };
    const drop = raft.log.baseIndex - this.durable.entriesBase;
    if (drop > 0) {
      this.durable.entries.splice(0, Math.min(drop, this.durable.entries.length));
      this.durable.entriesBase = raft.log.baseIndex;
    }
    return meta;
  }

  /** Bytes [offset, offset+length) of our snapshot at `index`, or null if we no longer have it. */
  snapshotBytes(index: number, offset: number, length: number): Uint8Array | null {
    const snapshot = this.durable.snapshot;
    if (snapshot === null || snapshot.meta.index !== index) return null;
    return snapshot.data.subarray(offset, offset + length);
  }

  private diskLatency(minMs: number, maxMs: number): number {
    return minMs + this.random.int(maxMs - minMs + 1);
  }

  /**
   * Queue the Ready's write on the simulated disk: it is durable after a drawn latency (none
   * when it writes nothing), and never before the writes queued ahead of it. Returns when.
   */
  queueWrite(ready: Ready, now: number, [minMs, maxMs]: readonly [number, number]): number {
    const hasWrite =
      ready.entries.length > 0 ||
      ready.hardState !== null ||
      ready.snapshot !== null ||
      ready.snapshotChunks.length > 0;
    const previous = this.pendingWrites.at(-1)?.doneAt ?? now;
    const doneAt = Math.max(previous, now + (hasWrite ? this.diskLatency(minMs, maxMs) : 0));
    this.pendingWrites.push({ ready, doneAt });
    return doneAt;
  }

  /** takeSnapshot when `every` (0: never) entries were applied since the last snapshot. */
  snapshotIfDue(every: number, retainEntries: number): SnapshotMeta | null {
    const lastSnapshot = this.durable.snapshot?.meta.index ?? 0;
    if (every === 0 || this.raft!.status().appliedIndex - lastSnapshot < every) return null;
    return this.takeSnapshot(retainEntries);
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
