import type { ErrorCode } from "../../stages/protocol.js";

/** A failed request. `code` is the contract's error code; `leader` a hint where given. */
export class StageraftError extends Error {
  override readonly name = "StageraftError";
  constructor(
    readonly code: ErrorCode | "CONNECTION",
    /** The message without the code. */
    readonly detail: string,
    readonly leader: string | null = null,
  ) {
    super(`${code}: ${detail}`);
  }

  /** Codes that promise nothing was done, so that a retry cannot apply a write twice. */
  get retryable(): boolean {
    return (
      this.code === "NOT_LEADER" ||
      this.code === "UNAVAILABLE" ||
      this.code === "OVERLOADED" ||
      this.code === "CONNECTION"
    );
  }
}

/** One attempt of a request: where it went and how it failed. */
export interface FailedAttempt {
  readonly endpoint: string;
  readonly error: StageraftError;
}

/**
 * The error to report for a request whose attempts all failed: a node's answer beats a
 * connection that never reached a node (the answer says what is wrong with the cluster), and
 * among equals the latest wins, so the choice does not depend on the order of the endpoints.
 * With several endpoints tried, the message names each and how it failed.
 */
export function mostTelling(attempts: readonly FailedAttempt[]): StageraftError {
  if (attempts.length === 0) throw new Error("mostTelling: no attempts");
  const rank = (error: StageraftError) => (error.code === "CONNECTION" ? 0 : 1);
  let best = attempts[0]!.error;
  for (const { error } of attempts) if (rank(error) >= rank(best)) best = error;
  const lastByEndpoint = new Map<string, StageraftError>();
  for (const { endpoint, error } of attempts) lastByEndpoint.set(endpoint, error);
  if (lastByEndpoint.size === 1) return best;
  const tried = [...lastByEndpoint].map(([endpoint, error]) => `${endpoint} ${shortReason(error)}`);
  return new StageraftError(best.code, `${best.detail} (tried ${tried.join(", ")})`, best.leader);
}

/** A few words for a table cell or a list: the code, or the socket error's name. */
export function shortReason(error: StageraftError): string {
  if (error.code !== "CONNECTION") return error.code;
  return (
    /\bE[A-Z]{3,}\b/.exec(error.detail)?.[0] ?? /HTTP \d{3}/.exec(error.detail)?.[0] ?? "CONNECTION"
  );
}
