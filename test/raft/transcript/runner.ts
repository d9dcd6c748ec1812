/**
 * Runs one transcript file: every block's commands against a fresh environment, the output
 * collected per block, invariants checked after each block.
 */
import { readFileSync } from "node:fs";
import { type Block, parseFile, renderFile } from "./datadriven.js";
import { Env } from "./env.js";
import { handlers } from "./handlers/mod.js";
import { Invariants } from "./invariants.js";

export interface BlockResult {
  readonly block: Block;
  readonly actual: string[];
}

export interface FileResult {
  readonly blocks: BlockResult[];
  /** The file with every block's output replaced by what ran (for REWRITE=1). */
  readonly rewritten: string;
}

/** Seed of every file's environment: a transcript is a function of its text alone. */
const SEED = 1;

export function runFile(path: string): FileResult {
  const blocks = parseFile(readFileSync(path, "utf8"), path);
  const env = new Env(SEED);
  const invariants = new Invariants();
  const results: BlockResult[] = [];
  for (const block of blocks) {
    for (const cmd of block.commands) {
      const handler = handlers[cmd.name];
      if (handler === undefined)
        throw new Error(`${path}:${cmd.line}: unknown command ${cmd.name}`);
      try {
        handler(env, cmd);
      } catch (error) {
        throw new Error(`${path}:${cmd.line}: ${cmd.text}: ${(error as Error).message}`, {
          cause: error,
        });
      }
    }
    const violation = invariants.check(env);
    if (violation !== null) throw new Error(`${path}:${block.line}: invariant: ${violation}`);
    const actual = env.takeOutput();
    results.push({ block, actual: actual.length > 0 ? actual : ["ok"] });
  }
  const rewritten = renderFile(
    blocks,
    results.map((r) => (r.block.commands.length > 0 ? r.actual : [])),
  );
  return { blocks: results, rewritten };
}
