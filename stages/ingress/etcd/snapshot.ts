import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import * as grpc from "@grpc/grpc-js";
import type { SnapshotMeta } from "../../../raft/types.js";
import type { Call } from "./door.js";
import { EtcdError } from "./errors.js";
import type { Fields, HeaderOf } from "./range.js";

/** The node's newest snapshot, and the file format /snapshot serves (handed in by src/). */
export interface SnapshotSource {
  readonly latest: () => { meta: SnapshotMeta; path: string } | null;
  /** The file's header; `padding` spaces after its meta JSON (to align the sha256 trailer). */
  readonly fileHeader: (meta: SnapshotMeta, padding: number) => Buffer;
}

const chunkBytes = 1 << 20;
/** etcd's snapshot trailer: a sha256 of the bytes before it. */
const TRAILER = 32;
/** How long a fresh snapshot may take to appear on this node (the admin ops' bound). */
const waitMs = 30_000;

/**
 * Maintenance.Snapshot: a fresh consistent snapshot (the native `snapshot` op, admin token),
 * streamed as the file GET /snapshot serves (docs/protocol.md "Snapshot download") plus etcd's
 * sha256 trailer — stageraft's format, not etcd's bolt database: `stageraft snapshot restore`
 * reads it, `etcdctl snapshot restore` does not.
 */
export function snapshotHandler(header: HeaderOf, source: SnapshotSource) {
  return async (rpc: grpc.ServerWritableStream<Fields, Fields>, call: Call): Promise<void> => {
    const { index } = await call({ op: "snapshot" });
    const deadline = Date.now() + waitMs;
    let latest = source.latest();
    while (latest === null || latest.meta.index < Number(index)) {
      if (Date.now() > deadline || rpc.cancelled)
        throw new EtcdError(grpc.status.UNAVAILABLE, "etcdserver: request timed out");
      await new Promise((resolve) => setTimeout(resolve, 50));
      latest = source.latest();
    }
    const { meta, path } = latest;
    // Opened before the first byte: a newer snapshot pruning it does not cut the stream.
    const handle = await open(path, "r");
    try {
      // etcdctl checks that the file ends in a sha256 of the rest and is 32 mod 512 bytes
      // long: the meta is padded (spaces: still JSON) so that the file before it is aligned.
      const unpadded = source.fileHeader(meta, 0).length + meta.size;
      const fileHeader = source.fileHeader(meta, (512 - (unpadded % 512)) % 512);
      const hash = createHash("sha256").update(fileHeader);
      let remaining = meta.size + TRAILER;
      const first = header(meta.index);
      await write(rpc, { header: first, remaining_bytes: remaining, blob: fileHeader });
      for (let offset = 0; offset < meta.size && !rpc.cancelled; ) {
        const buffer = Buffer.alloc(Math.min(chunkBytes, meta.size - offset));
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
        if (bytesRead !== buffer.length)
          throw new Error(`snapshot ${meta.index} is shorter than its meta`);
        hash.update(buffer);
        offset += bytesRead;
        remaining -= bytesRead;
        await write(rpc, { header: first, remaining_bytes: remaining, blob: buffer });
      }
      await write(rpc, { header: first, remaining_bytes: 0, blob: hash.digest() });
    } finally {
      await handle.close();
    }
  };
}

/** Write one response, waiting for the stream to drain when it is full. */
function write(rpc: grpc.ServerWritableStream<Fields, Fields>, response: Fields): Promise<void> {
  return new Promise((resolve) => {
    if (rpc.write(response)) resolve();
    else rpc.once("drain", () => resolve());
  });
}
