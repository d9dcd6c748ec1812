import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { sleep } from "../integration/harness.js";

/** Headless Chromium for the dashboard's browser tests (skipped where it is not installed). */
export const chromiumPath = "/usr/bin/chromium";

/** A fresh headless Chromium; the caller closes `context` and removes `profile`. */
export async function launch(): Promise<{ context: BrowserContext; profile: string }> {
  const profile = await mkdtemp(join(tmpdir(), "stageraft-chromium-"));
  // A persistent context is Playwright's way of giving Chromium a fresh --user-data-dir.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return { context, profile };
}

/** What the page shows: the text of the first match, "" when there is none. */
export async function text(page: Page, selector: string): Promise<string> {
  const locator = page.locator(selector).first();
  return (await locator.count()) === 0 ? "" : ((await locator.textContent()) ?? "");
}

export async function number(page: Page, selector: string): Promise<number> {
  return Number((await text(page, selector)).replace(/[^0-9.]/g, ""));
}

/** Polls `check` (reading the page) until it holds; fails with `what` and the last reading. */
export async function until(
  what: string,
  check: () => Promise<boolean>,
  describeState: () => Promise<unknown> = async () => "",
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(100);
  }
  const state = await describeState();
  const shown = typeof state === "string" ? state : JSON.stringify(state);
  throw new Error(`the page did not show ${what} within ${timeoutMs} ms: ${shown}`);
}
