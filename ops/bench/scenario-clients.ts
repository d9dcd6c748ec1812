/**
 * The clients of the scenario phases (failover, restart, flood), which run in the bench's main
 * thread: one interface over stageraft (its client library, one socket per node, moving to the
 * next node or the named leader when one fails) and etcd (etcd3 over gRPC, which moves between
 * its endpoints by itself).
 */
import { Etcd3 } from "etcd3";
import { connect, type StageraftClient, StageraftError } from "../../src/mod.js";
import { errorCode } from "./load-targets.js";

export interface ScenarioClient {
  /** Put; resolves with the client address of the node that answered ("" when unknown). */
  put(key: string, value: string): Promise<string>;
  /** A linearizable get; resolves with whether the key was found. */
  get(key: string): Promise<boolean>;
  close(): void;
}

export { errorCode };

/**
 * stageraft: a client per node, one attempt each (so that the bench sees every failure and
 * knows which node answered); after a failure the next request goes to the leader the error
 * named, or to the next node.
 */
export class StageraftScenarioClient implements ScenarioClient {
  private readonly clients: StageraftClient[];
  private current = 0;

  constructor(
    private readonly endpoints: readonly string[],
    requestTimeoutMs: number,
    connectTimeoutMs: number,
  ) {
    this.clients = endpoints.map((endpoint) =>
      connect([endpoint], { requestTimeoutMs, connectTimeoutMs, maxAttempts: 1 }),
    );
  }

  private async on<T>(call: (client: StageraftClient) => Promise<T>): Promise<[T, string]> {
    const index = this.current;
    try {
      return [await call(this.clients[index]!), this.endpoints[index]!];
    } catch (error) {
      if (
        error instanceof StageraftError &&
        error.code !== "OVERLOADED" &&
        this.current === index
      ) {
        const hint = error.leader;
        const named = hint === null ? -1 : this.endpoints.findIndex((e) => e.includes(hint));
        this.current = named >= 0 && named !== index ? named : (index + 1) % this.endpoints.length;
      }
      throw error;
    }
  }

  async put(key: string, value: string): Promise<string> {
    return (await this.on((client) => client.put(key, value)))[1];
  }

  async get(key: string): Promise<boolean> {
    const [reply] = await this.on((client) => client.get(key, { consistency: "linearizable" }));
    return reply.found;
  }

  close(): void {
    for (const client of this.clients) client.close();
  }
}

/** etcd: etcd3 over gRPC on every endpoint; each call has a deadline. */
export class EtcdScenarioClient implements ScenarioClient {
  private readonly client: Etcd3;

  constructor(
    endpoints: readonly string[],
    private readonly requestTimeoutMs: number,
    connectTimeoutMs: number,
  ) {
    this.client = new Etcd3({
      hosts: endpoints.map((endpoint) => `http://${endpoint}`),
      dialTimeout: connectTimeoutMs,
    });
  }

  private deadline() {
    return { deadline: new Date(Date.now() + this.requestTimeoutMs) };
  }

  async put(key: string, value: string): Promise<string> {
    await this.client.put(key).value(value).options(this.deadline()).exec();
    return "";
  }

  async get(key: string): Promise<boolean> {
    return (await this.client.get(key).options(this.deadline()).string()) !== null;
  }

  close(): void {
    this.client.close();
  }
}

/** `connectTimeoutMs` short where a dead node must be left quickly (failover, restart). */
export function scenarioClient(
  system: "stageraft" | "etcd",
  endpoints: readonly string[],
  requestTimeoutMs: number,
  connectTimeoutMs = 1_000,
): ScenarioClient {
  return system === "stageraft"
    ? new StageraftScenarioClient(endpoints, requestTimeoutMs, connectTimeoutMs)
    : new EtcdScenarioClient(endpoints, requestTimeoutMs, connectTimeoutMs);
}

/** `count` puts of `value` to keys `prefix`0…, `inFlight` at a time; resolves with the failures. */
export async function putMany(
  client: ScenarioClient,
  prefix: string,
  count: number,
  value: string,
  inFlight: number,
): Promise<number> {
  let next = 0;
  let failed = 0;
  const slot = async () => {
    while (next < count) {
      const key = `${prefix}${String(next++).padStart(12, "0")}`;
      try {
        await client.put(key, value);
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, slot));
  return failed;
}
