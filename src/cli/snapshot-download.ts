import { createWriteStream } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream } from "node:stream/web";
import { StageraftError } from "../client/client.js";
import { type FailedAttempt, mostTelling } from "../client/errors.js";
import { checkSnapshotFile } from "../snapshot-file.js";
import { type GlobalOptions, httpBase } from "./common.js";

export interface SavedSnapshot {
  readonly index: number;
  readonly bytes: number;
  readonly endpoint: string;
}

/** How long the members may take to write the snapshot the op asked for. */
const writeWaitMs = 30_000;

/**
 * Download a snapshot at `index` or later (GET /snapshot) from the first endpoint that has one
 * into `file`: written to FILE.part, checked (header, length, checksum), synced, then renamed,
 * so that FILE is whole or absent. A member answers the snapshot op before every member has
 * written its snapshot: an older one is waited for, endpoint after endpoint.
 */
export async function downloadSnapshot(
  endpoints: readonly string[],
  index: number,
  file: string,
  options: Pick<GlobalOptions, "token" | "timeout">,
): Promise<SavedSnapshot> {
  const deadline = Date.now() + Math.max(writeWaitMs, options.timeout);
  const attempts: FailedAttempt[] = [];
  for (;;) {
    for (const endpoint of endpoints) {
      const response = await get(endpoint, options, attempts);
      if (response === null) continue;
      const served = Number(response.headers.get("x-stageraft-snapshot-index") ?? 0);
      if (served < index || response.body === null) {
        await response.body?.cancel();
        attempts.push({
          endpoint,
          error: new StageraftError("UNAVAILABLE", `its snapshot is at ${served}, before ${index}`),
        });
        continue;
      }
      const part = `${file}.part`;
      try {
        await pipeline(Readable.fromWeb(response.body as ReadableStream), createWriteStream(part));
        const { meta } = await checkSnapshotFile(part);
        const handle = await open(part, "r+");
        const bytes = (await handle.stat()).size;
        await handle.sync();
        await handle.close();
        await rename(part, file);
        return { index: meta.index, bytes, endpoint };
      } catch (error) {
        await rm(part, { force: true });
        throw error;
      }
    }
    if (Date.now() > deadline) throw mostTelling(attempts);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** GET /snapshot; null (the failure recorded) where no snapshot came. 401 throws at once. */
async function get(
  endpoint: string,
  options: Pick<GlobalOptions, "token" | "timeout">,
  attempts: FailedAttempt[],
): Promise<Response | null> {
  let response: Response;
  // The timeout covers the answer's headers; the body of a large snapshot takes its time.
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), options.timeout);
  try {
    response = await fetch(`${httpBase(endpoint)}/snapshot`, {
      headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
      signal: abort.signal,
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    attempts.push({ endpoint, error: new StageraftError("CONNECTION", `${endpoint}: ${cause}`) });
    return null;
  } finally {
    clearTimeout(timer);
  }
  if (response.status === 200) return response;
  const text = (await response.text()).trim();
  const error =
    response.status === 401
      ? new StageraftError("UNAUTHORIZED", `${endpoint}: ${text}`)
      : new StageraftError("UNAVAILABLE", `${endpoint}: HTTP ${response.status} ${text}`);
  if (error.code === "UNAUTHORIZED") throw error;
  attempts.push({ endpoint, error });
  return null;
}
