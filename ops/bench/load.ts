/**
 * The load generator, run in worker threads so that the bench's main thread stays free to watch
 * the servers, the clock and Ctrl-C. A worker owns some "connections"; each connection keeps
 * `window` requests in flight (a closed loop: a slot sends its next request when the previous
 * one is answered). Latencies are recorded in an HDR histogram (microseconds) for requests that
 * complete inside the measurement window; the warm-up before it is not recorded.
 *
 *   stageraft: one WebSocket per connection (the client library, pipelined: `window` requests
 *              in flight on it); or, `--stageraft-client etcd3`, etcd's gRPC client as below.
 *   etcd:      gRPC (etcd3, default: one HTTP/2 channel per connection, `window` calls on it),
 *              or the v3 JSON gateway over HTTP/1.1 keep-alive, which carries one request at a
 *              time per socket, so a connection is `window` sockets: the same requests in flight.
 *   echo:      the bare echo server, one WebSocket per connection (the client's socket layer).
 * The targets are in load-targets.ts; completions per second go to windows.ts's counters.
 */
import { parentPort, workerData } from "node:worker_threads";
import { LoadPhase } from "./load-phase.js";
import {
  type Data,
  type EtcdClientKind,
  keyOf,
  makeTarget,
  makeValues,
  type StageraftClientKind,
  type Target,
} from "./load-targets.js";
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
  readonly stageraftClient: StageraftClientKind;
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
    const run = new LoadPhase(phase, init, random, () => aborted);
    const ticker = setInterval(
      () => post({ type: "tick", done: run.done, errors: run.failed, inflight: run.inflight }),
      500,
    );
    try {
      return await run.run(targets);
    } finally {
      clearInterval(ticker);
    }
  }
}

void main().catch((error: unknown) => {
  parentPort?.postMessage({
    type: "init-failed",
    message: String((error as Error)?.stack ?? error),
  } satisfies FromWorker);
});
