/**
 * Transcript tests of the Raft core, like etcd-io/raft's testdata/*.txt: each file under
 * testdata/ is a script of commands with the expected output after "----". Regenerate the
 * outputs in place after a deliberate change with
 *
 *     REWRITE=1 npx vitest run test/raft/transcript
 *
 * and review the diff as you would code: the transcripts are the specification.
 */
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runFile } from "./runner.js";

const dir = join(import.meta.dirname, "testdata");
const rewrite = process.env.REWRITE === "1";
const files = readdirSync(dir)
  .filter((name) => name.endsWith(".txt"))
  .sort();

describe("raft - transcripts", () => {
  it("transcripts - there are some", () => {
    expect(files.length).toBeGreaterThan(0);
  });
  for (const name of files) {
    it(`transcripts - ${name}`, () => {
      const path = join(dir, name);
      const result = runFile(path);
      // Same text, same seed: the same transcript, byte for byte.
      expect(runFile(path).rewritten, `${path}: not deterministic`).toBe(result.rewritten);
      if (rewrite) {
        writeFileSync(path, result.rewritten);
        return;
      }
      for (const { block, actual } of result.blocks) {
        if (block.commands.length === 0) continue;
        const where = `${path}:${block.line}: ${block.commands[0]!.text}`;
        expect(actual.join("\n"), where).toBe(block.expected.join("\n"));
      }
    });
  }
});
