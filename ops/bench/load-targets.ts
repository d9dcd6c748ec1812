/**
 * What the load generator sends requests to (load.ts): stageraft through its client library,
 * etcd through its gRPC client (etcd3) or its v3 JSON gateway, and the bare echo server through
 * the stageraft client's own socket layer (the same WebSocket code, JSON frames, no Raft).
 */
import http from "node:http";
import { Etcd3 } from "etcd3";
import { EndpointSockets } from "../../src/client/endpoint-sockets.js";
import { connect, type StageraftClient, StageraftError } from "../../src/mod.js";

export type EtcdClientKind = "grpc" | "http" | "fetch";
/** ws: stageraft's own client; etcd3: the etcd client (EtcdGrpcTarget) on its `--listen-etcd` door. */
export type StageraftClientKind = "ws" | "etcd3";

export class BenchError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

export function errorCode(error: unknown): string {
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

export function makeValues(count: number, bytes: number, random: () => number): string[] {
  return Array.from({ length: count }, () => {
    let value = "";
    for (let k = 0; k < bytes; k++) value += alphabet[random() % alphabet.length];
    return value;
  });
}

export type ReadMode = "linearizable" | "lease" | "stale";

export interface Target {
  /** Establish the connection(s) before the clock starts. */
  warm(): Promise<void>;
  put(key: number, value: number): Promise<void>;
  get(key: number, mode: ReadMode): Promise<void>;
  close(): void;
}

export interface Data {
  readonly keys: string[];
  readonly values: string[];
  readonly keys64: string[];
  readonly values64: string[];
  readonly valueBytes: number;
}

export class StageraftTarget implements Target {
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

export class EtcdTarget implements Target {
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

/** etcd through etcd3 (gRPC over HTTP/2): one channel per connection, `window` calls on it. */
export class EtcdGrpcTarget implements Target {
  private readonly client: Etcd3;

  constructor(
    endpoint: string,
    private readonly data: Data,
    private readonly requestTimeoutMs: number,
  ) {
    this.client = new Etcd3({ hosts: [`http://${endpoint}`], dialTimeout: requestTimeoutMs });
  }

  async warm(): Promise<void> {
    await this.client.maintenance.status();
  }

  async put(key: number, value: number): Promise<void> {
    await this.client
      .put(this.data.keys[key]!)
      .value(this.data.values[value]!)
      .options({ deadline: new Date(Date.now() + this.requestTimeoutMs) })
      .exec();
  }

  async get(key: number, mode: ReadMode): Promise<void> {
    if (mode === "lease") throw new BenchError("UNSUPPORTED", "etcd's API has no lease reads");
    const value = await this.client
      .get(this.data.keys[key]!)
      .serializable(mode === "stale")
      .options({ deadline: new Date(Date.now() + this.requestTimeoutMs) })
      .string();
    if (value === null || value.length !== this.data.valueBytes)
      throw new BenchError(
        "BAD_VALUE",
        `get ${this.data.keys[key]}: ${String(value).slice(0, 300)}`,
      );
  }

  close(): void {
    this.client.close();
  }
}

/**
 * The bare echo server (echo-server.ts) through the stageraft client's socket layer: the same
 * put frame stageraft gets, pipelined on one WebSocket, answered with `{id, ok}`.
 */
export class EchoTarget implements Target {
  private readonly sockets: EndpointSockets;

  constructor(
    endpoint: string,
    private readonly data: Data,
    requestTimeoutMs: number,
  ) {
    this.sockets = new EndpointSockets([endpoint], { requestTimeoutMs, connectTimeoutMs: 3_000 });
  }

  async warm(): Promise<void> {
    await this.sockets.once({ op: "status" });
  }

  async put(key: number, value: number): Promise<void> {
    await this.sockets.once({
      op: "put",
      key: this.data.keys[key]!,
      value: this.data.values[value]!,
    });
  }

  async get(): Promise<void> {
    throw new BenchError("UNSUPPORTED", "the echo server only echoes (put frames)");
  }

  close(): void {
    this.sockets.close(new StageraftError("CONNECTION", "closed"));
  }
}

export function makeTarget(
  system: "stageraft" | "etcd" | "echo",
  endpoint: string,
  data: Data,
  options: {
    window: number;
    requestTimeoutMs: number;
    etcdClient: EtcdClientKind;
    stageraftClient: StageraftClientKind;
  },
): Target {
  // The same etcd3 code path that drives etcd: one client, two servers.
  if (system === "stageraft" && options.stageraftClient === "etcd3")
    return new EtcdGrpcTarget(endpoint, data, options.requestTimeoutMs);
  if (system === "stageraft") return new StageraftTarget(endpoint, data, options.requestTimeoutMs);
  if (system === "echo") return new EchoTarget(endpoint, data, options.requestTimeoutMs);
  if (options.etcdClient === "grpc")
    return new EtcdGrpcTarget(endpoint, data, options.requestTimeoutMs);
  return new EtcdTarget(
    endpoint,
    data,
    options.window,
    options.requestTimeoutMs,
    options.etcdClient,
  );
}
