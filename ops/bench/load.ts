/**
 * The load generator, run in worker threads so that the bench's main thread stays free to watch
 * the servers, the clock and Ctrl-C. A worker owns some "connections"; each connection keeps
 * `window` requests in flight (a closed loop: a slot sends its next request when the previous
 * one is answered). Latencies are recorded in an HDR histogram (microseconds) for requests that
 * complete inside the measurement window; the warm-up before it is not recorded.
 *
 *   stageraft: one WebSocket per connection (the client library, pipelined: `window` requests
 *              in flight on it).
 *   etcd:      gRPC (etcd3, default: one HTTP/2 channel per connection, `window` calls on it),
 *              or the v3 JSON gateway over HTTP/1.1 keep-alive, which carries one request at a
 *              time per socket, so a connection is `window` sockets: the same requests in flight.
 *   echo:      the bare echo server, one WebSocket per connection (the client's socket layer).
 * The targets are in load-targets.ts; completions per second go to windows.ts's counters.
 */
import { parentPort, workerData } from "node:worker_threads";
import hdr from "hdr-histogram-js";
import {
  type Data,
  type EtcdClientKind,
  errorCode,
  keyOf,
  makeTarget,
  makeValues,
  type ReadMode,
  type Target,
} from "./load-targets.js";
import { countIn, emptyWindows } from "./windows.js";
import { xorshift } from "./xorshift.js";

export { keyOf };

export type PhaseOp = "load" | "put" | "get-linearizable" | "get-lease" | "get-stale";

export interface WorkerInit {
  readonly system: "stageraft" | "etcd" | "echo";
  /** One client address (host:port) per connection this worker owns. */
  readonly endpoints: readonly string[];
  readonly window: number;
  readonly keys: number;
  readonly valueBytes: number;
  readonly requestTimeoutMs: number;
  readonly etcdClient: EtcdClientKind;
  readonly seed: number;
  /** For the load phase: the keys [from, to) this worker writes once each. */
  readonly loadRange: readonly [number, number];
}

export type ToWorker =
  | {
      readonly type: "phase";
      readonly op: PhaseOp;
      /** Epoch ms at which the warm-up starts (the same instant for every worker). */
      readonly startAt: number;
      readonly warmupMs: number;
      readonly measureMs: number;
      readonly drainMs: number;
    }
  | { readonly type: "abort"; readonly reason: string }
  | { readonly type: "close" };

export interface PhaseResult {
  readonly op: PhaseOp;
  readonly ok: number;
  readonly errors: Record<string, number>;
  readonly errorSamples: string[];
  /** Base64-compressed HDR histogram of the measured latencies, in microseconds. */
  readonly histogram: string;
  /** Measurement window actually covered, ms (the load phase: until its last key was written). */
  readonly measuredMs: number;
  /** Requests still unanswered when the drain time ran out. */
  readonly unfinished: number;
  readonly aborted: string | null;
  /** Successful completions in each whole second of the measured window (none for load). */
  readonly windows: number[];
}

export type FromWorker =
  | { readonly type: "ready" }
  | { readonly type: "init-failed"; readonly message: string }
  | {
      readonly type: "tick";
      readonly done: number;
      readonly errors: number;
      readonly inflight: number;
    }
  | { readonly type: "result"; readonly result: PhaseResult }
  | { readonly type: "closed" };

function sleep(ms: number): Promise<void> {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
}

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error("load.js runs as a worker thread");
  const init = workerData as WorkerInit;
  const random = xorshift(init.seed);
  const valueSource = xorshift(0xc0ffee); // the same values in every worker and for both systems
  const keys = Array.from({ length: init.keys }, (_, k) => keyOf(k));
  const values = makeValues(64, init.valueBytes, valueSource);
  const data: Data = {
    keys,
    values,
    keys64: keys.map((key) => Buffer.from(key).toString("base64")),
    values64: values.map((value) => Buffer.from(value).toString("base64")),
    valueBytes: init.valueBytes,
  };
  const targets: Target[] = init.endpoints.map((endpoint) =>
    makeTarget(init.system, endpoint, data, init),
  );
  const post = (message: FromWorker) => port.postMessage(message);
  try {
    await Promise.all(targets.map((target) => target.warm()));
  } catch (error) {
    for (const target of targets) target.close();
    post({ type: "init-failed", message: (error as Error).message });
    return;
  }

  let aborted: string | null = null;
  let running = false;
  port.on("message", (message: ToWorker) => {
    if (message.type === "abort") {
      aborted ??= message.reason;
    } else if (message.type === "close") {
      for (const target of targets) target.close();
      post({ type: "closed" });
      port.close();
    } else if (message.type === "phase") {
      if (running) return;
      running = true;
      aborted = null;
      void runPhase(message)
        .then((result) => post({ type: "result", result }))
        .catch((error: unknown) =>
          post({
            type: "result",
            result: {
              op: message.op,
              ok: 0,
              errors: { BENCH_BUG: 1 },
              errorSamples: [String((error as Error)?.stack ?? error)],
              histogram: "",
              measuredMs: 0,
              unfinished: 0,
              windows: [],
              aborted: `load generator failed: ${(error as Error)?.message ?? error}`,
            },
          }),
        )
        .finally(() => {
          running = false;
        });
    }
  });
  post({ type: "ready" });

  async function runPhase(phase: Extract<ToWorker, { type: "phase" }>): Promise<PhaseResult> {
    const histogram = hdr.build({
      bitBucketSize: 32,
      lowestDiscernibleValue: 1,
      highestTrackableValue: 60_000_000,
      numberOfSignificantValueDigits: 3,
      autoResize: true,
    });
    const errors: Record<string, number> = {};
    const errorSamples: string[] = [];
    // performance.now() of this worker for the shared epoch start.
    const start = performance.now() + (phase.startAt - Date.now());
    const isLoad = phase.op === "load";
    const measureStart = isLoad ? start : start + phase.warmupMs;
    const measureEnd = isLoad ? Number.POSITIVE_INFINITY : measureStart + phase.measureMs;
    const windows = emptyWindows(isLoad ? 0 : phase.measureMs);
    let nextLoadKey = init.loadRange[0];
    let ok = 0;
    let done = 0;
    let failed = 0;
    let inflight = 0;
    let lastCompletion = start;
    const mode: ReadMode | null =
      phase.op === "get-linearizable"
        ? "linearizable"
        : phase.op === "get-lease"
          ? "lease"
          : phase.op === "get-stale"
            ? "stale"
            : null;

    const more = (): boolean => {
      if (aborted !== null) return false;
      if (isLoad) return nextLoadKey < init.loadRange[1];
      return performance.now() < measureEnd;
    };

    const slot = async (target: Target): Promise<void> => {
      while (more()) {
        let key: number;
        if (isLoad) key = nextLoadKey++;
        else key = random() % init.keys;
        const t0 = performance.now();
        inflight++;
        let code: string | null = null;
        try {
          if (mode === null) await target.put(key, random() & 63);
          else await target.get(key, mode);
        } catch (error) {
          code = errorCode(error);
          if (errorSamples.length < 5)
            errorSamples.push(String((error as Error)?.message ?? error));
        }
        inflight--;
        const t1 = performance.now();
        done++;
        if (code !== null) failed++;
        if (t1 >= measureStart && t1 < measureEnd) {
          if (code === null) {
            ok++;
            histogram.recordValue(Math.max(1, Math.round((t1 - t0) * 1000)));
            countIn(windows, t1 - measureStart);
          } else errors[code] = (errors[code] ?? 0) + 1;
          lastCompletion = t1;
        }
        // Do not spin on instant refusals (a dead connection, OVERLOADED).
        if (code !== null) await sleep(5);
      }
    };

    const wait = start - performance.now();
    if (wait > 0) await sleep(wait);
    const ticker = setInterval(() => post({ type: "tick", done, errors: failed, inflight }), 500);
    const slots: Promise<void>[] = [];
    for (const target of targets) for (let k = 0; k < init.window; k++) slots.push(slot(target));
    const all = Promise.all(slots);
    // Issue until the window closes (or the load phase's keys are written), then drain, bounded.
    const issueBound = isLoad
      ? null
      : sleep(Math.max(0, measureEnd - performance.now()) + phase.drainMs);
    let finished = false;
    void all.then(() => {
      finished = true;
    });
    if (issueBound === null) {
      // The load phase: bounded by the bench's phase timeout (it sends abort).
      while (!finished && aborted === null) await Promise.race([all, sleep(100)]);
      if (!finished) await Promise.race([all, sleep(phase.drainMs)]);
    } else {
      await Promise.race([all, issueBound]);
    }
    clearInterval(ticker);
    const measuredMs = isLoad
      ? lastCompletion - measureStart
      : Math.min(phase.measureMs, Math.max(0, performance.now() - measureStart));
    const result: PhaseResult = {
      op: phase.op,
      ok,
      errors,
      errorSamples,
      histogram: hdr.encodeIntoCompressedBase64(histogram),
      measuredMs,
      unfinished: inflight,
      aborted,
      windows,
    };
    histogram.destroy();
    return result;
  }
}

void main().catch((error: unknown) => {
  parentPort?.postMessage({
    type: "init-failed",
    message: String((error as Error)?.stack ?? error),
  } satisfies FromWorker);
});
