import type uWS from "uWebSockets.js";
import { open } from "node:fs/promises";
import type { Logger } from "pino";
import type { SnapshotMeta } from "../../raft/mod.js";
import { type ClientTokens, clientAccess, requestToken } from "../../stages/ingress/mod.js";
import type { SnapshotStore } from "../../storage/snapshot-store.js";
import { snapshotFileHeader } from "../snapshot-file.js";

/** The node's newest committed snapshot: its meta and the archive's path. */
export type LatestSnapshot = () => { meta: SnapshotMeta; path: string } | null;

const chunkBytes = 1 << 20;

/** The store's newest committed snapshot, as /snapshot serves it. */
export function latestSnapshotFile(store: SnapshotStore): ReturnType<LatestSnapshot> {
  const meta = store.latest();
  return meta === null ? null : { meta, path: store.dataPath(meta.index) };
}

/**
 * GET /snapshot (admin token, as the `snapshot` op): this node's newest snapshot as one file
 * (src/snapshot-file.ts: a header with the meta, then the archive), streamed with
 * back-pressure. The file is opened before the first byte is sent, so a newer snapshot that
 * prunes it meanwhile does not cut the download short (an open file outlives its unlink).
 */
export function serveSnapshot(
  res: uWS.HttpResponse,
  req: uWS.HttpRequest,
  tokens: ClientTokens,
  latest: LatestSnapshot,
  log: Logger,
): void {
  if (clientAccess(requestToken(req, false), tokens)?.admin !== true) {
    res
      .writeStatus("401 Unauthorized")
      .writeHeader("www-authenticate", 'Bearer realm="stageraft"')
      .end("the admin token is required (Authorization: Bearer <token>)\n");
    return;
  }
  const state = { aborted: false };
  res.onAborted(() => {
    state.aborted = true;
  });
  void openLatest(latest)
    .then(async (opened) => {
      if (state.aborted) return void (await opened?.handle.close());
      if (opened === null) {
        res.cork(() =>
          res
            .writeStatus("404 Not Found")
            .writeHeader("content-type", "application/json")
            .end('{"error": "this node has no snapshot yet: take one with the snapshot op"}'),
        );
        return;
      }
      try {
        await stream(res, state, opened.meta, opened.handle);
      } finally {
        await opened.handle.close();
      }
    })
    .catch((error: unknown) => {
      log.warn({ err: error }, "snapshot download failed");
      if (!state.aborted) res.cork(() => res.close());
    });
}

/** The newest snapshot, opened; a retry covers one pruned between the lookup and the open. */
async function openLatest(latest: LatestSnapshot) {
  for (let attempt = 0; attempt < 3; attempt++) {
    const snapshot = latest();
    if (snapshot === null) return null;
    try {
      return { meta: snapshot.meta, handle: await open(snapshot.path, "r") };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }
  throw new Error("the newest snapshot kept being replaced while it was opened");
}

/** Send the header and the archive, one chunk at a time, waiting whenever the socket is full. */
async function stream(
  res: uWS.HttpResponse,
  state: { aborted: boolean },
  meta: SnapshotMeta,
  handle: Awaited<ReturnType<typeof open>>,
): Promise<void> {
  const header = snapshotFileHeader(meta);
  const total = header.length + meta.size;
  res.cork(() =>
    res
      .writeStatus("200 OK")
      .writeHeader("content-type", "application/octet-stream")
      .writeHeader("x-stageraft-snapshot-index", String(meta.index)),
  );
  let chunk: Buffer = header;
  for (let offset = 0; !state.aborted; ) {
    if (!(await send(res, state, chunk, total))) return;
    if (offset >= meta.size) return;
    const buffer = Buffer.alloc(Math.min(chunkBytes, meta.size - offset));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
    if (bytesRead !== buffer.length)
      throw new Error(`snapshot ${meta.index} is shorter than its meta`);
    chunk = buffer;
    offset += bytesRead;
  }
}

/** tryEnd one chunk; on back-pressure, the rest once the socket drains. False: done or gone. */
function send(
  res: uWS.HttpResponse,
  state: { aborted: boolean },
  chunk: Buffer,
  total: number,
): Promise<boolean> {
  return new Promise((resolve) => {
    if (state.aborted) return resolve(false);
    const base = res.getWriteOffset();
    let ok = false;
    let done = false;
    res.cork(() => {
      [ok, done] = res.tryEnd(chunk, total);
    });
    if (done) return resolve(false);
    if (ok) return resolve(true);
    res.onAborted(() => {
      state.aborted = true;
      resolve(false);
    });
    res.onWritable((offset) => {
      const [retried, finished] = res.tryEnd(chunk.subarray(offset - base), total);
      if (finished) resolve(false);
      else if (retried) resolve(true);
      return retried;
    });
  });
}
