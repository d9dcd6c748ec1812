import type { Command } from "commander";
import { connect, StageraftError, type StatusResult } from "../client/client.js";
import { mostTelling, shortReason } from "../client/errors.js";
import {
  CliExit,
  endpointList,
  type GlobalOptions,
  httpBase,
  print,
  reportFailure,
  table,
} from "./common.js";

/** One endpoint's status, or why it has none. */
type EndpointStatus =
  | { readonly endpoint: string; readonly status: StatusResult }
  | { readonly endpoint: string; readonly error: StageraftError };

async function statusOf(endpoint: string, options: GlobalOptions): Promise<EndpointStatus> {
  const client = connect([endpoint], {
    ...(options.token ? { token: options.token } : {}),
    requestTimeoutMs: options.timeout,
    maxAttempts: 1,
  });
  try {
    return { endpoint, status: await client.status() };
  } catch (error) {
    if (!(error instanceof StageraftError)) throw error;
    return { endpoint, error };
  } finally {
    client.close();
  }
}

/**
 * `endpoint status` (and `status`): every endpoint's status, asked in parallel. Exit 0 when
 * at least one answered; when none did, the most telling error is reported as any command's
 * (a wrong token is UNAUTHORIZED, exit 1, as for put).
 */
async function endpointStatus(command: Command): Promise<void> {
  const options = command.optsWithGlobals<GlobalOptions>();
  const results = await Promise.all(endpointList(options).map((e) => statusOf(e, options)));
  const failed = results.flatMap((r) => ("error" in r ? [r] : []));
  if (failed.length === results.length && failed.length > 0) {
    process.exitCode = reportFailure(mostTelling(failed), options.write);
    return;
  }
  if (options.write === "json") {
    print(
      JSON.stringify(
        results.map((r) =>
          "error" in r
            ? { endpoint: r.endpoint, error: { code: r.error.code, message: r.error.message } }
            : { endpoint: r.endpoint, ...r.status },
        ),
      ),
    );
  } else {
    // Narrow columns: an unreachable node's error has a column of its own, in a few words.
    const rows = results.map((r) =>
      "error" in r
        ? [r.endpoint, "", "", "", "", "", "", shortReason(r.error)]
        : [
            r.endpoint,
            r.status.name,
            r.status.role,
            r.status.term,
            r.status.leader,
            r.status.commitIndex,
            r.status.appliedIndex,
            "",
          ],
    );
    print(
      table(rows, ["endpoint", "name", "role", "term", "leader", "commit", "applied", "error"]),
    );
  }
  process.exitCode = CliExit.ok;
}

interface Health {
  readonly endpoint: string;
  readonly health: boolean;
  readonly tookMs: number;
  readonly error: string;
}

/** GET /readyz (CONTRACT §7): ready is 200; 503 carries the reason; no answer is an error. */
async function healthOf(
  endpoint: string,
  timeoutMs: number,
): Promise<Health & { reached: boolean }> {
  const started = performance.now();
  const took = () => Math.round((performance.now() - started) * 10) / 10;
  try {
    const response = await fetch(`${httpBase(endpoint)}/readyz`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await response.json().catch(() => ({}))) as { reason?: string };
    const health = response.status === 200;
    const error = health ? "" : (body.reason ?? `HTTP ${response.status}`);
    return { endpoint, health, tookMs: took(), error, reached: true };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    const message = cause ?? (error as Error).name;
    return { endpoint, health: false, tookMs: took(), error: message, reached: false };
  }
}

/** `endpoint health`: exit 0 only when every endpoint is ready; 3 when none answered. */
async function endpointHealth(command: Command): Promise<void> {
  const options = command.optsWithGlobals<GlobalOptions>();
  const results = await Promise.all(endpointList(options).map((e) => healthOf(e, options.timeout)));
  if (options.write === "json")
    print(JSON.stringify(results.map(({ reached: _reached, ...health }) => health)));
  else if (options.write === "table")
    print(
      table(
        results.map((r) => [r.endpoint, r.health, `${r.tookMs}ms`, r.error]),
        ["endpoint", "health", "took", "error"],
      ),
    );
  else
    for (const r of results)
      print(
        r.health
          ? `${r.endpoint} is healthy: took = ${r.tookMs}ms`
          : `${r.endpoint} is unhealthy: ${r.error}`,
      );
  process.exitCode = results.every((r) => r.health)
    ? CliExit.ok
    : results.some((r) => r.reached)
      ? CliExit.refused
      : CliExit.unreachable;
}

export function registerEndpointCommands(program: Command): void {
  const endpoint = program
    .command("endpoint")
    .description("ask every endpoint in --endpoints, one by one (as etcdctl endpoint)");
  endpoint
    .command("health")
    .description(
      "is each endpoint ready (GET /readyz: a member with a known leader, healthy storage)? exits 0 only when all are",
    )
    .action(async (_options, command: Command) => endpointHealth(command));
  endpoint
    .command("status")
    .description("each endpoint's name, role, term, leader, commit and applied index")
    .action(async (_options, command: Command) => endpointStatus(command));
  program
    .command("status")
    .description("the status of every endpoint (the same as endpoint status)")
    .action(async (_options, command: Command) => endpointStatus(command));
}
