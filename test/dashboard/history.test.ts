import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { sleep, TestCluster } from "../integration/harness.js";
import { chromiumPath, launch, until } from "./chromium.js";

/**
 * The dashboard's memory, in headless Chromium: a page opened (or reloaded) now starts with the
 * node's last minutes on a five-minute axis, and a snapshot shows up as a marker.
 */

const token = "history-token";
let cluster: TestCluster | null = null;
let context: BrowserContext | null = null;
let profile: string | null = null;

afterAll(async () => {
  await context?.close();
  await cluster?.stop();
  if (profile) await rm(profile, { recursive: true, force: true });
});

interface ChartsState {
  points: number;
  firstAt: number | null;
  xSpanSec: number | null;
  markers: string[];
}

/** What the page's charts hold: points, the oldest one's time (s), the x axis span (s). */
function charts(page: Page): Promise<ChartsState> {
  return page.evaluate<ChartsState>(`(() => {
    const d = window.__dashboard;
    if (!d) return { points: 0, firstAt: null, xSpanSec: null, markers: [] };
    const x = d.charts.length ? d.charts[0].chart.scales.x : null;
    return {
      points: d.hist.t.length,
      firstAt: d.hist.t.length ? d.hist.t[0] : null,
      xSpanSec: x ? x.max - x.min : null,
      markers: d.markers.map((m) => m.kind),
    };
  })()`);
}

/** Opens the dashboard and waits for its first live picture. */
async function open(page: Page, url: string): Promise<{ openedSec: number; state: ChartsState }> {
  const openedSec = Date.now() / 1000;
  await page.goto(url);
  await until("a live picture", async () => (await charts(page)).points > 0);
  return { openedSec, state: await charts(page) };
}

describe("dashboard - history in a browser", () => {
  it.skipIf(!existsSync(chromiumPath))(
    "dashboard - a reloaded page opens with the node's history, and a snapshot is marked",
    async () => {
      cluster = await TestCluster.start(1, { auth: { clientToken: token } });
      const base = `http://${cluster.node("n1").client}`;
      const client = cluster.client(["n1"], { token });
      for (let k = 0; k < 50; k++) await client.put(`k${k}`, "v");
      // The node samples once a second whether or not a page watches: wait for some points.
      const historyUrl = `${base}/dashboard/history?token=${token}`;
      let points = 0;
      while (points < 8) {
        await sleep(500);
        points = ((await (await fetch(historyUrl)).json()) as { points: unknown[] }).points.length;
      }
      ({ context, profile } = await launch());
      const page = await context.newPage();
      const errors: string[] = [];
      page.on("pageerror", (error) => errors.push(error.message));
      const url = `${base}/dashboard?token=${token}`;

      // History that predates the page: a browser-only history would start at the page's load.
      for (const step of ["open", "reload"]) {
        const { openedSec, state } = await open(page, url);
        expect(state.points, step).toBeGreaterThanOrEqual(8);
        expect(state.firstAt!, step).toBeLessThan(openedSec - 5);
        // The axis is the last five minutes, not years around a single point.
        expect(state.xSpanSec!, step).toBeGreaterThan(295);
        expect(state.xSpanSec!, step).toBeLessThan(305);
      }

      // A snapshot: marked on the charts and listed under them.
      const { index } = await client.snapshot();
      expect(index).toBeGreaterThan(0);
      await until(
        "a snapshot marker",
        async () => (await page.locator('#markers [data-kind="snapshot"]').count()) === 1,
        async () => ({ markers: await page.locator("#markers").textContent() }),
      );
      expect((await charts(page)).markers).toContain("snapshot");
      expect(await page.locator('#markers [data-kind="snapshot"]').textContent()).toContain(
        "snapshot at index",
      );
      // ... and still there for a page opened after it.
      await page.reload();
      await until(
        "the snapshot marker after a reload",
        async () => (await page.locator('#markers [data-kind="snapshot"]').count()) === 1,
      );

      // The WAL panel says what a group commit is against an fsync (written when the reloaded
      // page's first data arrives, which may come after the snapshot marker).
      await until(
        "the WAL note",
        async () => ((await page.locator("#wal-note").textContent()) ?? "") !== "",
      );
      const note = (await page.locator("#wal-note").textContent()) ?? "";
      expect(note).toContain("group commit");
      expect(note).toContain("fsync");
      // The ingress card's text fits its box (nothing cut off with an ellipsis), at widths
      // just above the layouts' breakpoints, where its box is narrowest.
      for (const width of [1400, 1440, 700]) {
        await page.setViewportSize({ width, height: 900 });
        await sleep(300);
        const cut = await page.evaluate<string[]>(`(() =>
          [...document.querySelectorAll('[data-stage="ingress"] .row > span')]
            .filter((el) => el.scrollWidth > el.clientWidth + 1)
            .map((el) => el.textContent))()`);
        expect(cut, `${width} px`).toEqual([]);
      }
      expect(errors).toEqual([]);
    },
    90_000,
  );
});
