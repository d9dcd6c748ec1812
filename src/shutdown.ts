import type { Logger } from "pino";
import type { Closer } from "../queues/mod.js";

export type { Closer };

/** clean: every step finished. forced: one overran the deadline or failed; the rest were skipped. */
export type StopOutcome = "clean" | "forced";

/**
 * Run `closers` one after the other, all of them within `deadlineMs`. A step that fails or is
 * still running at the deadline ends the stop there: the later steps close storage, and
 * closing it under work still in progress would only turn that work into errors. Leaving
 * then is as safe as kill -9: every acknowledged write is already in the WAL (fsynced, with
 * wal.sync), and unfinished background work (a snapshot, a compaction) is redone or replayed
 * at the next start.
 */
export async function runClosers(
  closers: readonly Closer[],
  deadlineMs: number,
  log: Logger,
): Promise<StopOutcome> {
  const deadline = Date.now() + deadlineMs;
  for (const closer of closers) {
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const overran = new Promise<"overran">((resolve) => {
      timer = setTimeout(() => resolve("overran"), Math.max(0, deadline - started));
    });
    try {
      const step = (async () => {
        await closer.close();
        return "done" as const;
      })();
      step.catch(() => {}); // Failing after the deadline, it is already reported.
      if ((await Promise.race([step, overran])) === "overran") {
        log.error(
          { step: closer.name, waitingFor: closer.pending?.() ?? {}, deadlineMs },
          "stop deadline passed; exiting without finishing (acknowledged writes are in the WAL)",
        );
        return "forced";
      }
    } catch (error) {
      log.error(
        { err: error, step: closer.name },
        "a stop step failed; exiting without finishing (acknowledged writes are in the WAL)",
      );
      return "forced";
    } finally {
      clearTimeout(timer);
    }
    log.debug({ step: closer.name, ms: Date.now() - started }, "stop step done");
  }
  return "clean";
}
