/**
 * The load generator, run in worker threads so that the bench's main thread stays free to watch
 * the servers, the clock and Ctrl-C. A worker owns some "connections"; each connection keeps
 * `window` requests in flight (a closed loop: a slot sends its next request when the previous
 * one is answered). Latencies are recorded in an HDR histogram (microseconds) for requests that
 * complete inside the measurement window; the warm-up before it is not recorded.
 *
 *   stageraft: one WebSocket per connection (the client library, pipelined: `window` requests
 *              in flight on it).
 *   etcd:      the v3 JSON gateway over HTTP/1.1 keep-alive. HTTP/1.1 carries one request at a
 *              time per socket, so a connection is `window` sockets: the same requests in flight.
 */
import http from "node:http";
import { parentPort, workerData } from "node:worker_threads";
import hdr from "hdr-histogram-js";
import { connect, type StageraftClient, StageraftError } from "../../src/mod.js";
import { xorshift } from "./xorshift.js";

export type PhaseOp = "load" | "put" | "get-linearizable" | "get-lease" | "get-stale";

export interface WorkerInit {
  readonly system: "stageraft" | "etcd";
  /** One client address (host:port) per connection this worker owns. */
  readonly endpoints: readonly string[];
  readonly window: number;
  readonly keys: number;
  readonly valueBytes: number;
  readonly requestTimeoutMs: number;
  readonly etcdClient: "http" | "fetch";
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

class BenchError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

function errorCode(error: unknown): string {
  if (error instanceof StageraftError) return error.code;
  if (error instanceof BenchError) return error.code;
  if (error instanceof Error) {
    if (error.name === "TimeoutError" || error.name === "AbortError") return "TIMEOUT";
    const code = (error as NodeJS.ErrnoException).code;
    return typeof code === "string" ? code : error.name;
  }
  return "UNKNOWN";
}

/** A 16-byte key: "k" and 15 digits. */
export function keyOf(index: number): string {
  return `k${String(index).padStart(15, "0")}`;
}

const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

function makeValues(count: number, bytes: number, random: () => number): string[] {
  return Array.from({ length: count }, () => {
    let value = "";
    for (let k = 0; k < bytes; k++) value += alphabet[random() % alphabet.length];
    return value;
  });
}

type ReadMode = "linearizable" | "lease" | "stale";

interface Target {
  /** Establish the connection(s) before the clock starts. */
  warm(): Promise<void>;
  put(key: number, value: number): Promise<void>;
  get(key: number, mode: ReadMode): Promise<void>;
  close(): void;
}

interface Data {
  readonly keys: string[];
  readonly values: string[];
  readonly keys64: string[];
  readonly values64: string[];
  readonly valueBytes: number;
}

class StageraftTarget implements Target {
  private readonly client: StageraftClient;

  constructor(
    endpoint: string,
    private readonly data: Data,
    requestTimeoutMs: number,
  ) {
    // One attempt: a refused request is counted as an error, not hidden behind a retry.
    this.client = connect([endpoint], { requestTimeoutMs, maxAttempts: 1 });
  }

  async warm(): Promise<void> {
    await this.client.status();
  }

  async put(key: number, value: number): Promise<void> {
    await this.client.put(this.data.keys[key]!, this.data.values[value]!);
  }

  async get(key: number, mode: ReadMode): Promise<void> {
    const reply = await this.client.get(this.data.keys[key]!, { consistency: mode });
    if (!reply.found || reply.value === null || reply.value.length !== this.data.valueBytes)
      throw new BenchError("BAD_VALUE", `get ${this.data.keys[key]}: ${JSON.stringify(reply)}`);
  }

  close(): void {
    this.client.close();
  }
}

interface EtcdRangeReply {
  kvs?: { value?: string }[];
}

class EtcdTarget implements Target {
  private readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;
  private readonly base64ValueLength: number;

  constructor(
    endpoint: string,
    private readonly data: Data,
    private readonly window: number,
    private readonly requestTimeoutMs: number,
    private readonly client: "http" | "fetch",
  ) {
    const [host, port] = endpoint.split(":");
    this.host = host!;
    this.port = Number(port);
    // `window` keep-alive sockets: one request in flight on each, as HTTP/1.1 allows.
    this.agent = new http.Agent({ keepAlive: true, maxSockets: window, maxFreeSockets: window });
    this.base64ValueLength = Buffer.from(data.values[0]!).toString("base64").length;
  }

  private post(path: string, body: string): Promise<unknown> {
    if (this.client === "fetch") return this.postFetch(path, body);
    return new Promise((resolve, reject) => {
      const request = http.request(
        {
          host: this.host,
          port: this.port,
          path,
          method: "POST",
          agent: this.agent,
          headers: {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
          },
          timeout: this.requestTimeoutMs,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("error", reject);
          response.on("end", () => {
            const text = Buffer.concat(chunks).toString();
            if (response.statusCode !== 200) {
              reject(new BenchError(`HTTP_${response.statusCode}`, text.slice(0, 300)));
              return;
            }
            try {
              resolve(JSON.parse(text));
            } catch {
              reject(new BenchError("BAD_REPLY", text.slice(0, 300)));
            }
          });
        },
      );
      request.on("timeout", () =>
        request.destroy(new BenchError("TIMEOUT", `no answer within ${this.requestTimeoutMs} ms`)),
      );
      request.on("error", reject);
      request.end(body);
    });
  }

  private async postFetch(path: string, body: string): Promise<unknown> {
    const response = await fetch(`http://${this.host}:${this.port}${path}`, {
      method: "POST",
      body,
      headers: { "content-type": "application/json" },
      signal: AbortSignal.timeout(this.requestTimeoutMs),
    });
    const text = await response.text();
    if (response.status !== 200)
      throw new BenchError(`HTTP_${response.status}`, text.slice(0, 300));
    return JSON.parse(text);
  }

  async warm(): Promise<void> {
    // Open the sockets: `window` concurrent status calls.
    await Promise.all(
      Array.from({ length: this.window }, () => this.post("/v3/maintenance/status", "{}")),
    );
  }

  async put(key: number, value: number): Promise<void> {
    await this.post(
      "/v3/kv/put",
      `{"key":"${this.data.keys64[key]}","value":"${this.data.values64[value]}"}`,
    );
  }

  async get(key: number, mode: ReadMode): Promise<void> {
    if (mode === "lease") throw new BenchError("UNSUPPORTED", "etcd has no lease reads");
    const body =
      mode === "stale"
        ? `{"key":"${this.data.keys64[key]}","serializable":true}`
        : `{"key":"${this.data.keys64[key]}"}`;
    const reply = (await this.post("/v3/kv/range", body)) as EtcdRangeReply;
    const value = reply.kvs?.[0]?.value;
    if (value === undefined || value.length !== this.base64ValueLength)
      throw new BenchError(
        "BAD_VALUE",
        `range ${this.data.keys[key]}: ${JSON.stringify(reply).slice(0, 300)}`,
      );
  }

  close(): void {
    this.agent.destroy();
  }
}

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
    init.system === "stageraft"
      ? new StageraftTarget(endpoint, data, init.requestTimeoutMs)
      : new EtcdTarget(endpoint, data, init.window, init.requestTimeoutMs, init.etcdClient),
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
