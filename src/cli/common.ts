import { type Command, InvalidArgumentError, Option } from "commander";
import { connect, type StageraftClient, StageraftError } from "../client/client.js";

/**
 * What every client command shares: the global options, the exit codes, output helpers, and
 * run(), which connects, runs a command's action and turns a failure into its exit code.
 * Exit codes scripts can trust:
 *   0 done · 1 the cluster refused (the error code is printed) or a cas did not succeed ·
 *   2 bad usage · 3 no endpoint could be reached · 4 TIMEOUT (the outcome is unknown).
 */
export const CliExit = { ok: 0, refused: 1, usage: 2, unreachable: 3, unknown: 4 } as const;

export type Format = "simple" | "table" | "json";

export interface GlobalOptions {
  endpoints: string;
  token?: string;
  write: Format;
  timeout: number;
  /** A read command's own --consistency (optsWithGlobals merges it in), when it has one. */
  consistency?: "linearizable" | "lease" | "stale";
}

export const defaultEndpoints = "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003";

export function integer(value: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed)) throw new InvalidArgumentError("must be an integer");
  return parsed;
}

/** The client commands' options, on the program; every subcommand's --help shows them. */
export function addGlobalOptions(program: Command): void {
  program
    .configureHelp({ showGlobalOptions: true })
    .addOption(
      new Option("--endpoints <list>", "client addresses of the cluster's nodes (host:port,…)")
        .env("STAGERAFT_ENDPOINTS")
        .default(defaultEndpoints),
    )
    .addOption(
      new Option(
        "--token <token>",
        "bearer token (auth.clientToken, or auth.adminToken for admin commands)",
      ).env("STAGERAFT_TOKEN"),
    )
    .addOption(
      new Option("-w, --write <format>", "output format")
        .choices(["simple", "table", "json"])
        .default("simple"),
    )
    .addOption(
      new Option("--timeout <ms>", "per-request timeout").argParser(integer).default(5_000),
    );
}

/** For commands that talk to no cluster (serve, remu): their help leaves the client options out. */
export function withoutGlobalHelp(command: Command): Command {
  return command.configureHelp({ showGlobalOptions: false });
}

export function endpointList(options: Pick<GlobalOptions, "endpoints">): string[] {
  return options.endpoints
    .split(",")
    .map((e) => e.trim())
    .filter(Boolean);
}

/** A client for `endpoints` with the command's token and timeout; each endpoint is tried. */
export function clientFor(
  options: GlobalOptions,
  endpoints: readonly string[] = endpointList(options),
): StageraftClient {
  return connect(endpoints, {
    ...(options.token ? { token: options.token } : {}),
    requestTimeoutMs: options.timeout,
    // Every endpoint at least twice: the most telling error needs each one's answer.
    maxAttempts: Math.max(6, 2 * endpoints.length),
  });
}

export function table(rows: readonly (readonly unknown[])[], header: readonly string[]): string {
  const cells = [header, ...rows].map((row) =>
    row.map((cell) => (cell === null || cell === undefined ? "" : String(cell))),
  );
  const widths = header.map((_, k) => Math.max(...cells.map((row) => row[k]!.length)));
  const line = `+${widths.map((w) => "-".repeat(w + 2)).join("+")}+`;
  const render = (row: string[]) =>
    `| ${row.map((cell, k) => cell.padEnd(widths[k]!)).join(" | ")} |`;
  return [line, render(cells[0]!), line, ...cells.slice(1).map(render), line].join("\n");
}

export function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

export function usageError(message: string): number {
  process.stderr.write(`Error: ${message}\n`);
  return CliExit.usage;
}

export function exitCodeOf(error: StageraftError): number {
  if (error.code === "CONNECTION") return CliExit.unreachable;
  return error.code === "TIMEOUT" ? CliExit.unknown : CliExit.refused;
}

/** Print a failure the way every command does (stderr, or a JSON line under -w json). */
export function reportFailure(error: StageraftError, write: Format): number {
  if (write === "json")
    print(JSON.stringify({ ok: false, error: { code: error.code, message: error.message } }));
  else process.stderr.write(`Error: ${error.message}\n`);
  return exitCodeOf(error);
}

/**
 * Run a client command: `action` gets a client for the endpoints and returns the exit code.
 * A StageraftError becomes its exit code (CliExit); anything else is a bug and propagates.
 */
export async function run(
  command: Command,
  action: (client: StageraftClient, options: GlobalOptions) => Promise<number | undefined>,
): Promise<void> {
  const options = command.optsWithGlobals<GlobalOptions>();
  const client = clientFor(options);
  try {
    process.exitCode = (await action(client, options)) ?? CliExit.ok;
  } catch (error) {
    if (!(error instanceof StageraftError)) throw error;
    process.exitCode = reportFailure(error, options.write);
  } finally {
    client.close();
  }
}

/** The HTTP base URL of an endpoint given as host:port or ws://host:port/v1. */
export function httpBase(endpoint: string): string {
  const hostPort = endpoint.replace(/^wss?:\/\//, "").replace(/\/.*$/, "");
  return `${endpoint.startsWith("wss://") ? "https" : "http"}://${hostPort}`;
}
