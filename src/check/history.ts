/**
 * Histories of client operations for the linearizability checker, and a recorder that builds
 * them from real runs.
 *
 * An operation is an interval [call, return] during which it took effect (or, when it never
 * returned, [call, ∞) during which it may have taken effect, or not at all). Requests that
 * failed with a code promising that nothing was done are not part of the history: they are as
 * if never sent.
 */

/** Whoever issued an operation; each client runs one operation at a time. */
export type ClientId = string | number;

/** One operation of a history. `return` null or Infinity: it never returned (outcome unknown). */
export interface Operation<I, O> {
  readonly clientId: ClientId;
  /** When it was invoked: any clock (performance.now, a logical counter), one per history. */
  readonly call: number;
  /** When its answer came; null or Infinity when it never came (TIMEOUT, connection lost). */
  readonly return: number | null;
  readonly input: I;
  /** The answer; undefined (and ignored) when the operation never returned. */
  readonly output?: O | undefined;
}

// ---- the KV operations ----

export type KvInput =
  | { readonly op: "put"; readonly key: string; readonly value: string }
  | { readonly op: "get"; readonly key: string }
  | { readonly op: "delete"; readonly key: string }
  | {
      readonly op: "cas";
      readonly key: string;
      readonly expect: string | null;
      readonly value: string;
    }
  | { readonly op: "incr"; readonly key: string; readonly delta: number };

/** put → ok: nothing to check. */
export type PutOutput = Readonly<Record<string, unknown>> | undefined;
/** get → the value, null when absent. */
export interface GetOutput {
  readonly value: string | null;
}
/** delete → ok; `deleted` (whether the key existed) is checked when given. */
export interface DeleteOutput {
  readonly deleted?: boolean;
}
/** cas → whether it succeeded, and the value after it (checked when given). */
export interface CasOutput {
  readonly succeeded: boolean;
  readonly value?: string | null;
}
/** incr → the new value; stored as a decimal string (the client library returns a number). */
export interface IncrOutput {
  readonly value: string | number;
}

export type KvOutput = PutOutput | GetOutput | DeleteOutput | CasOutput | IncrOutput;
export type KvOperation = Operation<KvInput, KvOutput>;

/** The operation never returned: it may have taken effect at any time after its call, or never. */
export function isPending(op: { readonly return: number | null }): boolean {
  return op.return === null || op.return === Number.POSITIVE_INFINITY;
}

// ---- errors: unknown outcome, or nothing done ----

/**
 * Error codes whose reply promises that nothing was done (the server rejected the request
 * before it could take effect, or the client gave up retrying only such failures). Such
 * operations are left out of the history. Anything else — TIMEOUT, a lost connection, an
 * unexpected exception — may or may not have taken effect.
 */
export const NOTHING_DONE_CODES: ReadonlySet<string> = new Set([
  "OVERLOADED",
  "NOT_LEADER",
  "UNAVAILABLE",
  "BAD_REQUEST",
  "TOO_LARGE",
  "UNAUTHORIZED",
  "COMPACTED",
]);

/**
 * What a failed request says about its effect: "nothing-done" (leave it out of the history)
 * or "unknown" (record it as never returned). Unknown errors count as "unknown": that can only
 * make the checker more permissive, never report a false violation.
 */
export function outcomeOfError(error: unknown): "nothing-done" | "unknown" {
  const code =
    typeof error === "object" && error !== null && "code" in error
      ? (error as { code: unknown }).code
      : undefined;
  return typeof code === "string" && NOTHING_DONE_CODES.has(code) ? "nothing-done" : "unknown";
}

// ---- the recorder ----

/** The handle `invoke` returns: settle it exactly once. */
export interface PendingCall<O> {
  /** The operation returned `output`. */
  ok(output: O): void;
  /** The outcome is unknown (TIMEOUT, connection lost, crash): recorded as never returned. */
  unknown(): void;
  /** It failed with a promise that nothing was done: dropped from the history. */
  failed(): void;
  /** It threw `error`: dropped or recorded as unknown, as `outcomeOfError` says. */
  error(error: unknown): "nothing-done" | "unknown";
}

export interface RecorderOptions {
  /** The clock for call and return times; performance.now by default. */
  readonly clock?: () => number;
}

interface Slot<I, O> {
  readonly clientId: ClientId;
  readonly call: number;
  readonly input: I;
  state: "in-flight" | "ok" | "unknown" | "dropped";
  return: number | null;
  output: O | undefined;
}

/**
 * Builds a history from a real run:
 *
 *     const done = recorder.invoke(clientId, { op: "put", key, value });
 *     try { await client.put(key, value); done.ok({}); } catch (e) { done.error(e); }
 *
 * Times come from one clock, taken at invoke and at settle, so that each recorded interval
 * contains the moment the operation took effect.
 */
export class HistoryRecorder<I = KvInput, O = KvOutput> {
  private readonly slots: Slot<I, O>[] = [];
  private readonly clock: () => number;

  constructor(options: RecorderOptions = {}) {
    this.clock = options.clock ?? (() => performance.now());
  }

  /** A recorder whose clock is a counter (1, 2, 3, ...): orders events, no wall time. */
  static logical<I = KvInput, O = KvOutput>(): HistoryRecorder<I, O> {
    let now = 0;
    return new HistoryRecorder<I, O>({ clock: () => ++now });
  }

  invoke(clientId: ClientId, input: I): PendingCall<O> {
    const slot: Slot<I, O> = {
      clientId,
      call: this.clock(),
      input,
      state: "in-flight",
      return: null,
      output: undefined,
    };
    this.slots.push(slot);
    const settle = (state: Slot<I, O>["state"]): void => {
      if (slot.state !== "in-flight") {
        throw new Error(`history recorder: an operation of client ${clientId} settled twice`);
      }
      slot.state = state;
    };
    return {
      ok: (output) => {
        const now = this.clock();
        settle("ok");
        slot.return = now;
        slot.output = output;
      },
      unknown: () => settle("unknown"),
      failed: () => settle("dropped"),
      error: (error) => {
        const outcome = outcomeOfError(error);
        settle(outcome === "nothing-done" ? "dropped" : "unknown");
        return outcome;
      },
    };
  }

  /** Operations recorded so far, in call order; those still in flight count as never returned. */
  history(): Operation<I, O>[] {
    const ops: Operation<I, O>[] = [];
    for (const slot of this.slots) {
      if (slot.state === "dropped") continue;
      if (slot.state === "ok") {
        ops.push({
          clientId: slot.clientId,
          call: slot.call,
          return: slot.return,
          input: slot.input,
          output: slot.output,
        });
      } else {
        ops.push({
          clientId: slot.clientId,
          call: slot.call,
          return: Number.POSITIVE_INFINITY,
          input: slot.input,
        });
      }
    }
    return ops;
  }

  /** Operations invoked and not settled yet. */
  get inFlight(): number {
    return this.slots.filter((slot) => slot.state === "in-flight").length;
  }
}

// ---- running KV operations against a client ----

/** The part of the client library (src/client/client.ts) the KV operations use. */
export interface KvClientLike {
  put(key: string, value: string): Promise<unknown>;
  get(key: string): Promise<{ readonly value: string | null }>;
  delete(key: string): Promise<{ readonly deleted: boolean }>;
  cas(
    key: string,
    expect: string | null,
    value: string,
  ): Promise<{ readonly succeeded: boolean; readonly value: string | null }>;
  incr(key: string, delta: number): Promise<{ readonly value: number | string }>;
}

/** Run one KV operation on a client; resolves with its output in the history's form. */
export async function runKv(client: KvClientLike, input: KvInput): Promise<KvOutput> {
  switch (input.op) {
    case "put":
      await client.put(input.key, input.value);
      return {};
    case "get": {
      const result = await client.get(input.key);
      return { value: result.value };
    }
    case "delete": {
      const result = await client.delete(input.key);
      return { deleted: result.deleted };
    }
    case "cas": {
      const result = await client.cas(input.key, input.expect, input.value);
      return { succeeded: result.succeeded, value: result.value };
    }
    case "incr": {
      const result = await client.incr(input.key, input.delta);
      return { value: String(result.value) };
    }
  }
}

export type RecordedOutcome =
  | { readonly outcome: "ok"; readonly output: KvOutput }
  | { readonly outcome: "unknown" | "nothing-done"; readonly error: unknown };

/** Invoke, run and settle one KV operation; never throws for a failed request. */
export async function recordKv(
  recorder: HistoryRecorder<KvInput, KvOutput>,
  client: KvClientLike,
  clientId: ClientId,
  input: KvInput,
): Promise<RecordedOutcome> {
  const done = recorder.invoke(clientId, input);
  let output: KvOutput;
  try {
    output = await runKv(client, input);
  } catch (error) {
    return { outcome: done.error(error), error };
  }
  done.ok(output);
  return { outcome: "ok", output };
}
