import type { SeededRandom } from "../../../raft/rand.js";
import type { NodeId } from "../../../raft/types.js";
import type { ClientRequest, Consistency } from "../../../stages/protocol.js";
import type { ClientConnection } from "../../../stages/respond/mod.js";
import {
  type HistoryRecorder,
  type KvInput,
  type KvOutput,
  NOTHING_DONE_CODES,
  type PendingCall,
} from "../../check/mod.js";
import { adminConnection, type NodeHost, offerRequest } from "./host.js";

/** What a client needs of the cluster: its nodes and the virtual time. */
export interface ClientWorld {
  readonly hosts: readonly NodeHost[];
  /** The nodes' session TTL: exactly-once holds only within it. */
  readonly sessionTtlMs: number;
  now(): number;
  trace(line: string): void;
}

const keys = ["a", "b", "c"];
const consistencies: readonly Consistency[] = ["linearizable", "lease", "stale"];

/** An operation in flight, over its attempts (a session write is retried with the same seq). */
interface InFlight {
  readonly input: KvInput;
  readonly request: ClientRequest;
  /** null: a stale read, not part of the linearizable history. */
  readonly call: PendingCall<KvOutput> | null;
  attempts: number;
  readonly firstSentAt: number;
  /** An attempt's outcome is unknown: a later refusal does not make it "nothing done". */
  uncertain: boolean;
}

/**
 * A client of node mode: one operation at a time, sent to a node's pipeline as ingress would
 * (admission, then raft-step), its answer read from a connection in respond's table. Writes
 * carry a session (and are retried with the same seq when their outcome is unknown), reads
 * use every consistency; the linearizable and lease ones enter the checked history.
 */
export class SimClient {
  private seq = 0;
  private nextId = 1;
  private op: InFlight | null = null;
  private connection: ClientConnection | null = null;
  private host: NodeHost | null = null;
  stats = { ok: 0, refused: 0, unknown: 0, retries: 0, stale: 0 };

  constructor(
    readonly id: number,
    private readonly world: ClientWorld,
    private readonly recorder: HistoryRecorder<KvInput, KvOutput>,
    private readonly random: SeededRandom,
    private readonly session: string,
  ) {}

  get busy(): boolean {
    return this.op !== null;
  }

  /** Start a new operation (when idle). */
  issue(): void {
    if (this.op !== null) return;
    const key = this.random.pick(keys);
    const roll = this.random.int(10);
    let input: KvInput;
    let consistency: Consistency | null = null;
    if (roll < 4) {
      consistency = this.random.pick(consistencies);
      input = { op: "get", key };
    } else if (roll < 7) input = { op: "incr", key, delta: 1 + this.random.int(3) };
    else if (roll < 9) input = { op: "put", key, value: `${this.id}.${this.seq + 1}` };
    else input = { op: "cas", key, expect: null, value: `${this.id}.${this.seq + 1}` };
    const request: ClientRequest =
      consistency !== null
        ? { op: "get", key, consistency }
        : { ...(input as Exclude<KvInput, { op: "get" }>), session: this.session, seq: ++this.seq };
    const stale = consistency === "stale";
    if (stale) this.stats.stale++;
    const call = stale ? null : this.recorder.invoke(this.id, input);
    this.op = {
      input,
      request,
      call,
      attempts: 0,
      uncertain: false,
      firstSentAt: this.world.now(),
    };
    this.send();
  }

  /** The node this client talks to lost power: its answer will never come. */
  disconnected(): void {
    this.connection = null;
    this.host = null;
    if (this.op !== null) this.unknown();
  }

  private send(): void {
    const op = this.op!;
    op.attempts++;
    const host = this.pickHost();
    const pipeline = host?.life?.pipeline;
    if (host === undefined || pipeline === undefined) {
      this.refused("no node is up");
      return;
    }
    const connection = this.connect(host);
    if (!offerRequest(host, connection, this.nextId++, op.request)) this.refused("OVERLOADED");
  }

  private pickHost(): NodeHost | undefined {
    if (this.host?.life != null && this.random.chance(0.9)) return this.host;
    const up = this.world.hosts.filter((h) => h.life !== null);
    return up.length === 0 ? undefined : this.random.pick(up);
  }

  private connect(host: NodeHost): ClientConnection {
    if (this.host === host && this.connection !== null && !this.connection.closed)
      return this.connection;
    const connection = adminConnection<Answer>(
      host,
      (reply) => this.answer(reply),
      () => this.disconnected(),
    );
    this.host = host;
    this.connection = connection;
    return connection;
  }

  private answer(reply: Answer): void {
    if (this.op === null || reply.id !== this.nextId - 1) return; // an earlier attempt's
    if (reply.ok) this.done(reply);
    else if (NOTHING_DONE_CODES.has(reply.error.code)) this.refused(reply.error.code);
    else this.unknown();
  }

  private done(reply: Answer & { ok: true }): void {
    const op = this.op!;
    this.op = null;
    this.stats.ok++;
    const output: KvOutput =
      op.input.op === "get" || op.input.op === "incr"
        ? { value: reply.value as string | null }
        : op.input.op === "cas"
          ? { succeeded: reply.succeeded as boolean, value: reply.value as string | null }
          : {};
    op.call?.ok(output);
    this.world.trace(`client ${this.id} ${describe(op)} → ${JSON.stringify(output)}`);
  }

  /** Nothing was done by this attempt: retry a session write that may have been done before. */
  private refused(code: string): void {
    const op = this.op!;
    if (op.uncertain && this.retry()) return;
    this.op = null;
    this.stats.refused++;
    if (op.uncertain) op.call?.unknown();
    else op.call?.failed();
    this.world.trace(`client ${this.id} ${describe(op)} → ${code}`);
  }

  /** TIMEOUT or a lost connection: the write may have been done; retry it in its session. */
  private unknown(): void {
    const op = this.op!;
    op.uncertain = true;
    if (this.retry()) return;
    this.op = null;
    this.stats.unknown++;
    op.call?.unknown();
    this.world.trace(`client ${this.id} ${describe(op)} → unknown`);
  }

  private retry(): boolean {
    const op = this.op!;
    if (op.input.op === "get" || op.attempts >= 4) return false;
    // The session may be forgotten by the time a late retry applies (its TTL counts from the
    // session's last entry): the first attempt, applied, would be applied again.
    if (this.world.now() - op.firstSentAt >= this.world.sessionTtlMs / 2) return false;
    this.stats.retries++;
    this.connection = null;
    this.host = null;
    this.send();
    return true;
  }
}

type Answer =
  | ({ id: number; ok: true } & Record<string, unknown>)
  | { id: number; ok: false; error: { code: string } };

function describe(op: InFlight): string {
  const r = op.request as Record<string, unknown>;
  return `${r.op} ${r.key}${"consistency" in r ? `@${r.consistency}` : ` s${r.seq}`}`;
}

export function sessionFor(client: number, node: NodeId | null = null): string {
  return `client-${client}${node ?? ""}`;
}
