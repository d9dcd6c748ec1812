import type { SeededRandom } from "../../../raft/rand.js";
import type { ClientRequest } from "../../../stages/protocol.js";
import type { ClientConnection } from "../../../stages/respond/mod.js";
import { adminConnection, type NodeHost, offerRequest } from "./host.js";

/** What a lane needs of the run. */
export interface LaneWorld {
  readonly hosts: readonly NodeHost[];
  now(): number;
  at(time: number, fn: () => void): void;
  trace(line: string): void;
}

export type Answer =
  | ({ id: number; ok: true } & Record<string, unknown>)
  | { id: number; ok: false; error: { code: string } };
/** One request over its attempts: `done` gets the answer, or null when every attempt failed. */
interface Call {
  readonly request: ClientRequest;
  /** No attempt starts at or after this virtual time. */
  readonly until: number;
  readonly timeoutMs: number;
  readonly done: (answer: Answer | null, sentAt: number) => void;
  tried: number;
  /** The id of the attempt in flight (answers to earlier attempts are ignored). */
  id: number;
  sentAt: number;
  firstSentAt: number;
}

/**
 * One request at a time of a simulated client, over its attempts: each attempt is given up
 * after `timeoutMs` (or at once when refused) and the next one goes to the leader when one is
 * up (a client following the leader hint), until the call's time is up. A session's retry
 * keeps its seq. Answers come on an in-process connection in the node's respond table.
 */
export class RequestLane {
  private nextId = 1;
  private call: Call | null = null;
  private connection: ClientConnection | null = null;
  private host: NodeHost | null = null;

  constructor(
    private readonly world: LaneWorld,
    private readonly random: SeededRandom,
    private readonly label: string,
    /** Told of every attempt as it is sent. */
    private readonly sent: (request: ClientRequest) => void = () => {},
  ) {}

  /** Drop the call in flight: its answer, if any, is ignored. */
  cancel(): void {
    this.call = null;
  }

  /** Send `request` (a call in flight is dropped); attempts until `forMs` have passed. */
  request(request: ClientRequest, forMs: number, timeoutMs: number, done: Call["done"]): void {
    const until = this.world.now() + forMs;
    this.call = { request, until, timeoutMs, done, tried: 0, id: 0, sentAt: 0, firstSentAt: 0 };
    this.attempt(this.call);
  }

  private attempt(call: Call): void {
    if (this.call !== call) return;
    call.tried++;
    call.id = this.nextId++;
    call.sentAt = this.world.now();
    if (call.tried === 1) call.firstSentAt = call.sentAt;
    this.sent(call.request);
    const id = call.id;
    this.world.at(this.world.now() + call.timeoutMs, () => {
      if (this.call === call && call.id === id) this.failed(call, "timeout");
    });
    const host = this.pickHost(call.tried > 1);
    if (host === undefined) return; // no node is up: the attempt times out
    const connection = this.connect(host);
    if (!offerRequest(host, connection, id, call.request, call.timeoutMs))
      this.failed(call, "OVERLOADED");
  }

  /** An attempt failed (nothing done, or unknown): the next one, or the call's end. */
  private failed(call: Call, why: string): void {
    this.world.trace(`${this.label} ${call.request.op} attempt ${call.tried} → ${why}`);
    this.connection = null;
    this.host = null;
    // After a refusal (no leader yet, overloaded) the next attempt waits a little.
    const at = this.world.now() + (why === "timeout" ? 1 : call.timeoutMs / 2);
    if (at < call.until) {
      const id = call.id;
      this.world.at(at, () => {
        if (call.id === id) this.attempt(call);
      });
      return;
    }
    this.call = null;
    call.done(null, call.sentAt);
  }

  private answer(reply: Answer): void {
    const call = this.call;
    if (call === null || reply.id !== call.id) return; // an earlier attempt's
    if (!reply.ok && reply.error.code !== "NOT_FOUND") {
      this.failed(call, reply.error.code);
      return;
    }
    this.call = null;
    // A session's answer may be an earlier attempt's, applied then: it counts from the first.
    call.done(reply, "session" in call.request ? call.firstSentAt : call.sentAt);
  }

  /** First attempts go to the node the client talks to; retries to the leader, if one is up. */
  private pickHost(retry: boolean): NodeHost | undefined {
    const up = this.world.hosts.filter((h) => h.life !== null);
    if (retry) {
      const leader = up.find((h) => h.life!.raft.status().role === "leader");
      if (leader !== undefined) return leader;
    }
    if (this.host?.life != null) return this.host;
    return up.length === 0 ? undefined : this.random.pick(up);
  }

  private connect(host: NodeHost): ClientConnection {
    if (this.host === host && this.connection !== null && !this.connection.closed)
      return this.connection;
    const connection = adminConnection<Answer>(
      host,
      (reply) => this.answer(reply),
      () => {
        if (this.connection === connection) this.connection = null;
      },
    );
    this.host = host;
    this.connection = connection;
    return connection;
  }
}
