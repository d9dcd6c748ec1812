/** The transcript machinery itself: the file format, and that a violated invariant is caught. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseFile, renderFile } from "./datadriven.js";
import { runFile } from "./runner.js";

const sample = `# A header
# on two lines.

add-nodes 3 voters=(1,2,3) prevote=true
----
ok

# Between blocks.
campaign 1
stabilize 1 2
----
line one
  line two
`;

describe("transcript harness", () => {
  it("datadriven - parses commands, arguments, comments and outputs", () => {
    const blocks = parseFile(sample, "sample.txt");
    expect(blocks).toHaveLength(2);
    const [first, second] = blocks;
    expect(first!.comments).toEqual(["# A header", "# on two lines.", ""]);
    expect(first!.commands[0]!.named.get("voters")).toBe("(1,2,3)");
    expect(first!.commands[0]!.positional).toEqual(["3"]);
    expect(first!.line).toBe(4);
    expect(second!.commands.map((c) => c.name)).toEqual(["campaign", "stabilize"]);
    expect(second!.expected).toEqual(["line one", "  line two"]);
  });

  it("datadriven - renders a file back as it was written", () => {
    const blocks = parseFile(sample, "sample.txt");
    expect(renderFile(blocks, [["ok"], ["line one", "  line two"]])).toBe(sample);
  });

  it("datadriven - a block without ---- is an error naming the line", () => {
    expect(() => parseFile("campaign 1\n\nstatus\n----\n", "bad.txt")).toThrow(/bad.txt:2/);
  });

  it("invariants - two leaders in one term are reported with file and line", () => {
    // A storage fault: 1's disk loses its vote for 3 in term 2, so 1 votes again in term 2.
    const dir = mkdtempSync(join(tmpdir(), "transcript-"));
    const path = join(dir, "two-leaders.txt");
    writeFileSync(
      path,
      [
        "add-nodes 3 voters=(1,2,3)\n----\n",
        "set-log 3 log=() term=1\n----\n",
        "campaign 3\nstabilize 1 3\n----\n",
        "set-log 1 log=() term=1\n----\n",
        "set-log 2 log=() term=1\n----\n",
        "campaign 2\nstabilize 1 2\n----\n",
      ].join("\n"),
    );
    expect(() => runFile(path)).toThrow(
      /two-leaders.txt:17: invariant: election safety: 3 and 2 both led term 2/,
    );
  });

  it("runner - an unknown command names the file and line", () => {
    const dir = mkdtempSync(join(tmpdir(), "transcript-"));
    const path = join(dir, "unknown.txt");
    writeFileSync(path, "add-nodes 1 voters=(1)\n----\n\nfrobnicate 1\n----\n");
    expect(() => runFile(path)).toThrow(/unknown.txt:4: unknown command frobnicate/);
  });
});
