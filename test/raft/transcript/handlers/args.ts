/** Reading a command's arguments, with errors that name the line. */
import type { Command } from "../datadriven.js";
import { parseList } from "../datadriven.js";

export function fail(cmd: Command, message: string): never {
  throw new Error(`line ${cmd.line}: ${cmd.name}: ${message}`);
}

/** The k-th bare word. */
export function word(cmd: Command, k: number): string {
  const value = cmd.positional[k];
  if (value === undefined) fail(cmd, `argument ${k + 1} missing`);
  return value;
}

export function int(cmd: Command, key: string, fallback?: number): number {
  const value = cmd.named.get(key);
  if (value === undefined) {
    if (fallback === undefined) fail(cmd, `${key}= missing`);
    return fallback;
  }
  const n = Number(value);
  if (!Number.isInteger(n)) fail(cmd, `${key}=${value} is not an integer`);
  return n;
}

export function bool(cmd: Command, key: string, fallback: boolean): boolean {
  const value = cmd.named.get(key);
  if (value === undefined) return fallback;
  if (value !== "true" && value !== "false") fail(cmd, `${key}=${value} is not true or false`);
  return value === "true";
}

export function ids(cmd: Command, key: string): string[] {
  const value = cmd.named.get(key);
  return value === undefined ? [] : parseList(value);
}

/** Every bare word, or every node when there are none. */
export function nodesOrAll(cmd: Command, all: readonly string[]): string[] {
  return cmd.positional.length > 0 ? [...cmd.positional] : [...all];
}
