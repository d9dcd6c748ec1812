#!/usr/bin/env node
/**
 * The npm registry this project's machines reach serves only the packages of their own
 * platform (linux x64): the other platforms' optional binaries (esbuild, rollup, biome,
 * msgpackr-extract …) answer 404, so npm leaves them out of package-lock.json — and `npm ci`
 * then refuses the lock as out of sync. This adds each missing optional package to the lock
 * as an entry for no real OS, so that `npm ci` accepts the lock and skips them everywhere.
 * Run it after every `npm install` that changes the lock: node ops/lock-optional-platforms.mjs
 */
import { readFileSync, writeFileSync } from "node:fs";

const path = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(path, "utf8"));
const packages = lock.packages;
let added = 0;
for (const [location, entry] of Object.entries(packages)) {
  for (const [name, spec] of Object.entries(entry.optionalDependencies ?? {})) {
    // npm resolves a dependency next to its parent first, then up the tree to the root.
    const nested = `${location ? `${location}/` : ""}node_modules/${name}`;
    if (packages[nested] !== undefined || packages[`node_modules/${name}`] !== undefined) continue;
    const version = String(spec).replace(/^[\^~=]/, "");
    packages[`node_modules/${name}`] = { version, dev: entry.dev, optional: true, os: ["none"] };
    if (!entry.dev) delete packages[`node_modules/${name}`].dev;
    added++;
  }
}
// npm's own order (@isaacs/string-locale-compare, "en"): in any other order the next
// `npm install` rewrites the lock (uWebSockets.js sorts among the u's, not before them).
const collator = new Intl.Collator("en");
const sorted = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => collator.compare(a, b)),
);
lock.packages = sorted;
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`package-lock.json: ${added} optional packages of other platforms marked as skipped`);
