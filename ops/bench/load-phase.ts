/**
 * One phase inside a load-generator thread (load.ts): `window` closed-loop slots per target,
 * each sending its next request when the previous one is answered; latencies of the requests
 * that complete inside the measured window go to an HDR histogram (µs), their count to the
 * 1-second windows; errors are counted by code.
 */
import hdr from "hdr-histogram-js";
import type { PhaseResult, ToWorker, WorkerInit } from "./load.js";
import { errorCode, type ReadMode, type Target } from "./load-targets.js";
import { countIn, emptyWindows } from "./windows.js";

type PhaseMessage = Extract<ToWorker, { type: "phase" }>;

function sleep(ms: number): Promise<void> {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
}

const readModes: Partial<Record<PhaseMessage["op"], ReadMode>> = {
  "get-linearizable": "linearizable",
  "get-lease": "lease",
  "get-stale": "stale",
};

export class LoadPhase {
  private readonly histogram = hdr.build({
    bitBucketSize: 32,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
  });
  private readonly errors: Record<string, number> = {};
  private readonly errorSamples: string[] = [];
  private readonly isLoad: boolean;
  /** performance.now() of this thread for the shared epoch start. */
  private readonly start: number;
  private readonly measureStart: number;
  private readonly measureEnd: number;
  private readonly windows: number[];
  private readonly mode: ReadMode | null;
  private nextLoadKey: number;
  private ok = 0;
  private lastCompletion: number;
  done = 0;
  failed = 0;
  inflight = 0;

  constructor(
    private readonly phase: PhaseMessage,
    private readonly init: WorkerInit,
    private readonly random: () => number,
    /** The reason the bench aborted the phase, or null. */
    private readonly aborted: () => string | null,
  ) {
    this.isLoad = phase.op === "load";
    this.start = performance.now() + (phase.startAt - Date.now());
    this.measureStart = this.isLoad ? this.start : this.start + phase.warmupMs;
    this.measureEnd = this.isLoad ? Number.POSITIVE_INFINITY : this.measureStart + phase.measureMs;
    this.windows = emptyWindows(this.isLoad ? 0 : phase.measureMs);
    this.mode = readModes[phase.op] ?? null;
    this.nextLoadKey = init.loadRange[0];
    this.lastCompletion = this.start;
  }

  private more(): boolean {
    if (this.aborted() !== null) return false;
    if (this.isLoad) return this.nextLoadKey < this.init.loadRange[1];
    return performance.now() < this.measureEnd;
  }

  private record(code: string | null, t0: number, t1: number): void {
    this.done++;
    if (code !== null) this.failed++;
    if (t1 < this.measureStart || t1 >= this.measureEnd) return;
    if (code === null) {
      this.ok++;
      this.histogram.recordValue(Math.max(1, Math.round((t1 - t0) * 1000)));
      countIn(this.windows, t1 - this.measureStart);
    } else this.errors[code] = (this.errors[code] ?? 0) + 1;
    this.lastCompletion = t1;
  }

  private async slot(target: Target): Promise<void> {
    while (this.more()) {
      const key = this.isLoad ? this.nextLoadKey++ : this.random() % this.init.keys;
      const t0 = performance.now();
      this.inflight++;
      let code: string | null = null;
      try {
        if (this.mode === null) await target.put(key, this.random() & 63);
        else await target.get(key, this.mode);
      } catch (error) {
        code = errorCode(error);
        if (this.errorSamples.length < 5)
          this.errorSamples.push(String((error as Error)?.message ?? error));
      }
      this.inflight--;
      this.record(code, t0, performance.now());
      // Do not spin on instant refusals (a dead connection, OVERLOADED).
      if (code !== null) await sleep(5);
    }
  }

  /** Runs the slots on `targets` until the window closes (or the keys are written), drained. */
  async run(targets: readonly Target[]): Promise<PhaseResult> {
    const wait = this.start - performance.now();
    if (wait > 0) await sleep(wait);
    const slots: Promise<void>[] = [];
    for (const target of targets)
      for (let k = 0; k < this.init.window; k++) slots.push(this.slot(target));
    const all = Promise.all(slots);
    let finished = false;
    void all.then(() => {
      finished = true;
    });
    if (this.isLoad) {
      // The load phase: bounded by the bench's phase timeout (it sends abort).
      while (!finished && this.aborted() === null) await Promise.race([all, sleep(100)]);
      if (!finished) await Promise.race([all, sleep(this.phase.drainMs)]);
    } else {
      const drained = Math.max(0, this.measureEnd - performance.now()) + this.phase.drainMs;
      await Promise.race([all, sleep(drained)]);
    }
    return this.result();
  }

  private result(): PhaseResult {
    const measuredMs = this.isLoad
      ? this.lastCompletion - this.measureStart
      : Math.min(this.phase.measureMs, Math.max(0, performance.now() - this.measureStart));
    const result: PhaseResult = {
      op: this.phase.op,
      ok: this.ok,
      errors: this.errors,
      errorSamples: this.errorSamples,
      histogram: hdr.encodeIntoCompressedBase64(this.histogram),
      measuredMs,
      unfinished: this.inflight,
      aborted: this.aborted(),
      windows: this.windows,
    };
    this.histogram.destroy();
    return result;
  }
}
