import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

export interface DashboardAsset {
  readonly contentType: string;
  readonly body: Buffer;
}

const files: readonly [name: string, module: string, contentType: string][] = [
  ["uplot.min.js", "uplot/dist/uPlot.iife.min.js", "text/javascript; charset=utf-8"],
  ["uplot.min.css", "uplot/dist/uPlot.min.css", "text/css; charset=utf-8"],
];

/**
 * The dashboard's static files (uPlot, MIT), read from node_modules once at start: the page
 * needs no CDN and no network beyond the node itself. A missing file is left out; the page
 * then shows its numbers without charts.
 */
export function loadDashboardAssets(): ReadonlyMap<string, DashboardAsset> {
  const require = createRequire(import.meta.url);
  const assets = new Map<string, DashboardAsset>();
  for (const [name, module, contentType] of files) {
    try {
      assets.set(name, { contentType, body: readFileSync(require.resolve(module)) });
    } catch {
      // Not installed: the page degrades to numbers only.
    }
  }
  return assets;
}
