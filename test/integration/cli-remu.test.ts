import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { cliPath, stageraft } from "./cli-run.js";

// Issue 15: `stageraft remu --verbose | head` died with an unhandled EPIPE stack trace.

describe("cli - remu", () => {
  it("cli - remu --verbose whose reader goes away (| head) ends quietly, exit 0", async () => {
    const child = spawn(process.execPath, [cliPath, "remu", "--verbose", "--steps", "5000"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    // As head does: read a little, then close the pipe's read end.
    child.stdout.once("data", () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
    expect(stderr).toBe("");
    expect(code).toBe(0);
  });

  it("cli - docs/remu.md's flag table lists every flag of remu --help", async () => {
    const help = await stageraft(["remu", "--help"]);
    const flags = [...help.stdout.matchAll(/^ {2}(?:-\w, )?(--[a-z-]+)/gm)]
      .map((match) => match[1]!)
      .filter((flag) => flag !== "--help");
    expect(flags).toContain("--record-steps");
    const docs = readFileSync(new URL("../../docs/remu.md", import.meta.url), "utf8");
    const table = docs.split("\n").filter((line) => line.startsWith("| `--"));
    for (const flag of flags)
      expect(
        table.some((line) => line.startsWith(`| \`${flag}`)),
        flag,
      ).toBe(true);
  });
});
