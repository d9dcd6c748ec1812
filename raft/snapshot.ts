/**
 * Snapshots: compaction, streaming InstallSnapshot in chunks (leader) and receiving and
 * installing one (follower).
 */
import { assert } from "./assert.js";
import type { RaftCore } from "./core.js";
import type { Progress } from "./progress.js";
import type { InstallSnapshot, NodeId, SnapshotMeta, SnapshotResponse } from "./types.js";

const EMPTY = new Uint8Array(0);

/**
 * The owner has snapshotted its state machine up to `index` (<= appliedIndex), `size` bytes.
 * The log is compacted, keeping `retainEntries` entries before it for slow followers.
 */
export function compact(r: RaftCore, index: number, size: number, retainEntries = 0): SnapshotMeta {
  assert(index <= r.appliedIndex, `compact: ${index} is not applied (${r.appliedIndex})`);
  const current = r.snapshotMeta;
  if (current !== null && index <= current.index) return current;
  const term = r.log.term(index);
  const chk = r.log.chk(index);
  assert(term !== undefined && chk !== undefined, `compact: index ${index} is not in the log`);
  const meta: SnapshotMeta = {
    index,
    term,
    chk,
    config: r.membership.at(index),
    configContext: r.membership.contextAt(index),
    size,
  };
  r.snapshotMeta = meta;
  const compactTo = Math.max(r.log.baseIndex, index - retainEntries);
  r.log.compactTo(compactTo);
  r.membership.compactTo(compactTo);
  for (const [to, progress] of r.progress) {
    if (progress.state === "snapshot") startSnapshot(r, to, progress);
  }
  return meta;
}

export function startSnapshot(r: RaftCore, to: NodeId, progress: Progress): void {
  const meta = r.snapshotMeta;
  assert(meta !== null, "snapshot needed but none exists");
  progress.becomeSnapshot(meta);
  sendSnapshotChunk(r, to, progress);
}

export function sendSnapshotChunk(r: RaftCore, to: NodeId, progress: Progress): void {
  const transfer = progress.snapshot!;
  const { meta } = transfer;
  const offset = transfer.ackedOffset;
  const length = Math.min(r.config.snapshotChunkBytes, meta.size - offset);
  const done = offset + length >= meta.size;
  r.send({ type: "snapshot", to, meta, offset, length, done, data: EMPTY });
  transfer.sentTick = r.tickCount;
}

export function resendStalledSnapshots(r: RaftCore): void {
  for (const [to, progress] of r.progress) {
    const sentTick = progress.snapshot?.sentTick;
    if (progress.state !== "snapshot" || sentTick === null || sentTick === undefined) continue;
    if (r.tickCount - sentTick >= r.config.electionTicks) sendSnapshotChunk(r, to, progress);
  }
}

export function handleSnapshotResponse(r: RaftCore, m: SnapshotResponse, progress: Progress): void {
  progress.recentActive = true;
  const transfer = progress.snapshot;
  if (
    progress.state !== "snapshot" ||
    transfer === null ||
    m.snapshotIndex !== transfer.meta.index
  ) {
    return;
  }
  transfer.ackedOffset = m.reject
    ? Math.min(m.nextOffset, transfer.meta.size)
    : Math.max(transfer.ackedOffset, m.nextOffset);
  sendSnapshotChunk(r, m.from, progress);
}

export function handleSnapshot(r: RaftCore, m: InstallSnapshot): void {
  const { meta } = m;
  if (meta.index <= r.commitIndex) {
    r.incomingSnapshot = null;
    r.ackCommitted(m.from, 0);
    return;
  }
  if (m.offset === 0) r.incomingSnapshot = { meta, nextOffset: 0 };
  const incoming = r.incomingSnapshot;
  const same =
    incoming !== null && incoming.meta.index === meta.index && incoming.meta.term === meta.term;
  if (!same || m.offset !== incoming.nextOffset) {
    const nextOffset = same ? incoming.nextOffset : 0;
    r.send({
      type: "snapshotResp",
      to: m.from,
      snapshotIndex: meta.index,
      nextOffset,
      reject: true,
    });
    return;
  }
  assert(m.data.length === m.length, "snapshot chunk: data length differs from its header");
  r.snapshotChunks.push({ meta, offset: m.offset, data: m.data, done: m.done });
  incoming.nextOffset += m.data.length;
  if (!m.done) {
    r.send({
      type: "snapshotResp",
      to: m.from,
      snapshotIndex: meta.index,
      nextOffset: incoming.nextOffset,
      reject: false,
    });
    return;
  }
  r.incomingSnapshot = null;
  installSnapshot(r, meta);
  r.send({
    type: "appendResp",
    to: m.from,
    reject: false,
    index: r.log.lastIndex(),
    hintIndex: 0,
    hintTerm: 0,
    sentTick: 0,
  });
}

export function installSnapshot(r: RaftCore, meta: SnapshotMeta): void {
  if (r.log.matchTerm(meta.index, meta.term)) {
    // We already hold the snapshot's entries: just commit up to it (the chunks are discarded).
    r.commitTo(meta.index);
    return;
  }
  r.log.resetTo(meta.index, meta.term, meta.chk);
  r.membership.reset(meta.index, meta.config, meta.configContext ?? "");
  r.snapshotMeta = meta;
  r.commitIndex = meta.index;
  r.appliedIndex = meta.index;
  r.applyingIndex = meta.index;
  r.stableIndex = meta.index;
  r.inProgressIndex = meta.index;
  r.snapshotToInstall = meta;
}
