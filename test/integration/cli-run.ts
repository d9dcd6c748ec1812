import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** Runs the built CLI (dist/src/cli.js) as a user would: a real process, its exit code. */

export const cliPath = fileURLToPath(new URL("../../dist/src/cli.js", import.meta.url));

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliRunOptions {
  /** Written to stdin, then closed; absent: stdin is /dev/null. */
  readonly input?: string;
  /** Replaces the STAGERAFT_* variables of this process's environment (others are kept). */
  readonly env?: Record<string, string>;
  readonly timeoutMs?: number;
}

export function stageraft(
  args: readonly string[],
  options: CliRunOptions = {},
): Promise<CliResult> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith("STAGERAFT_")),
  );
  const child = spawn(process.execPath, [cliPath, ...args], {
    env: { ...env, ...options.env },
    stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
  if (options.input !== undefined) child.stdin!.end(options.input);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 30_000);
  return new Promise((resolve) => {
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 99), stdout, stderr });
    });
  });
}
