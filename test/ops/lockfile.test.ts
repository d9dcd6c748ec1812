import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

// Issue 15: `npm install` on a fresh clone rewrote package-lock.json (3 entries reordered).
// npm writes `packages` in @isaacs/string-locale-compare("en") order; a lock in any other
// order is rewritten by the next install.

const root = fileURLToPath(new URL("../..", import.meta.url));
const lockText = readFileSync(join(root, "package-lock.json"), "utf8");
const scratch = mkdtempSync(join(tmpdir(), "stageraft-lock-"));

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("package-lock.json", () => {
  it("lockfile - packages are in npm's own order, so npm install leaves it as it is", () => {
    const keys = Object.keys((JSON.parse(lockText) as { packages: object }).packages);
    const collator = new Intl.Collator("en");
    expect(keys).toEqual([...keys].sort((a, b) => collator.compare(a, b)));
  });

  it("lockfile - ops/lock-optional-platforms.mjs changes nothing in the committed lock", () => {
    mkdirSync(join(scratch, "ops"));
    copyFileSync(
      join(root, "ops", "lock-optional-platforms.mjs"),
      join(scratch, "ops", "lock.mjs"),
    );
    copyFileSync(join(root, "package-lock.json"), join(scratch, "package-lock.json"));
    execFileSync(process.execPath, [join(scratch, "ops", "lock.mjs")], { stdio: "ignore" });
    expect(readFileSync(join(scratch, "package-lock.json"), "utf8")).toBe(lockText);
  });
});
