import { existsSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { sleep, TestCluster } from "../integration/harness.js";
import { chromiumPath, launch, number, text, until } from "./chromium.js";

const order = ["ingress", "raft-step", "wal-append", "replicate", "apply", "respond"];
const token = "dash-token";
const screenshots = join(process.cwd(), "test-results");

let cluster: TestCluster | null = null;
let context: BrowserContext | null = null;
let profile: string | null = null;

afterAll(async () => {
  await context?.close();
  await cluster?.stop();
  if (profile) await rm(profile, { recursive: true, force: true });
});

const raftView = async (page: Page) => ({
  role: await text(page, "#raft-role"),
  leader: await text(page, "#raft-leader"),
  live: await page.locator("#live").getAttribute("data-state"),
});

/** Puts with 16 in flight through one node until stopped; errors (a leader change) are ridden out. */
function writeLoad(c: TestCluster, through: string): { stop(): Promise<number> } {
  const client = c.client([through], { token, requestTimeoutMs: 2_000, maxAttempts: 3 });
  let running = true;
  let done = 0;
  const loop = (async () => {
    let k = 0;
    while (running) {
      const results = await Promise.allSettled(
        Array.from({ length: 16 }, () => client.put(`load${k++ % 512}`, "v".repeat(64))),
      );
      done += results.filter((r) => r.status === "fulfilled").length;
      if (results.every((r) => r.status === "rejected")) await sleep(100);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return done;
    },
  };
}

describe("dashboard - in a browser", () => {
  it.skipIf(!existsSync(chromiumPath))(
    "dashboard - live numbers move under load and the leader change shows in the Raft and cluster views",
    async () => {
      cluster = await TestCluster.start(3, { auth: { clientToken: token } });
      const first = await cluster.waitForLeader();
      // The page watches a follower, which then takes over by transfer-leader.
      const watched = cluster.nodes.find((n) => n.name !== first)!.name;
      const third = cluster.nodes.find((n) => n.name !== first && n.name !== watched)!.name;
      ({ context, profile } = await launch());
      const page = await context.newPage();
      const errors: string[] = [];
      page.on("pageerror", (error) => errors.push(error.message));
      await page.goto(`http://${cluster.node(watched).client}/dashboard?token=${token}`);

      // Connected, with the token taken from the page's own URL.
      const shows = (role: string, leader: string) => async () => {
        const view = await raftView(page);
        return view.live === "live" && view.role === role && view.leader === leader;
      };
      // A loaded machine (two test files at once) may move leadership off `first` while the
      // page opens: put it back, so that the steps below start from the cluster they expect.
      const leaderBack = async () => {
        const now = await cluster!.waitForLeader();
        if (now !== first)
          await cluster!
            .client([now], { token })
            .transferLeader(first)
            .catch(() => undefined);
        return shows("follower", first)();
      };
      // Chromium's first page load shares two cores with another test file: 30 s.
      await until(`follower of ${first}`, leaderBack, () => raftView(page), 30_000);
      const boxes = await page
        .locator("[data-stage]")
        .evaluateAll((els) => els.map((el) => el.getAttribute("data-stage")));
      expect(boxes).toEqual(order);
      await until(
        "three members up",
        async () => (await page.locator('#cluster [data-member][data-status="up"]').count()) === 3,
      );
      await until(
        `${first} as leader in the cluster view`,
        async () =>
          (await text(page, `#cluster [data-member="${first}"] [data-f="role"]`)) === "leader",
      );

      // Under a write load the numbers move.
      const appliedBefore = await number(page, "#raft-applied");
      const load = writeLoad(cluster, watched);
      const throughput = (stage: string) => number(page, `[data-stage="${stage}"] [data-f="tp"]`);
      await until(
        "the applied index and the stages' throughput moving",
        async () =>
          (await number(page, "#raft-applied")) > appliedBefore + 200 &&
          (await throughput("ingress")) > 0 &&
          (await throughput("raft-step")) > 0 &&
          (await throughput("wal-append")) > 0 &&
          (await throughput("apply")) > 0,
        async () => ({
          applied: await number(page, "#raft-applied"),
          tp: await Promise.all(order.map(throughput)),
        }),
      );
      const applied = await number(page, "#raft-applied");
      await sleep(2_500);
      expect(await number(page, "#raft-applied")).toBeGreaterThan(applied);
      expect(await number(page, '[data-stage="ingress"] [data-f="frames"]')).toBeGreaterThan(0);
      expect(await page.locator(".stage.hot").count()).toBe(1);
      await sleep(2_000);

      // transfer-leader to the watched node: its page turns leader, with follower progress.
      const admin = cluster.client([first], { token });
      expect((await admin.transferLeader(watched)).leader).toBe(watched);
      await until(`itself as leader`, shows("leader", watched), () => raftView(page));
      await until(
        `the cluster view agreeing ${watched} leads`,
        async () =>
          (await page
            .locator(`#cluster [data-member="${watched}"][data-role="leader"]`)
            .count()) === 1 &&
          (await page
            .locator(`#cluster [data-member="${first}"][data-role="follower"]`)
            .count()) === 1,
      );
      expect(await page.locator("#followers tbody tr").count()).toBe(2);
      expect(await number(page, "#raft-changes")).toBeGreaterThanOrEqual(2);
      await sleep(4_000);
      await mkdir(screenshots, { recursive: true });
      await page.screenshot({ path: join(screenshots, "dashboard.png"), fullPage: true });

      // A leader kill: hand leadership on, kill that leader; the page sees it down and a new one.
      const other = cluster.client([watched], { token });
      expect((await other.transferLeader(third)).leader).toBe(third);
      await until(`${third} as leader`, shows("follower", third), () => raftView(page));
      await cluster.kill(third, "SIGKILL");
      const next = await cluster.waitForLeader(15_000, [first, watched]);
      await until(
        `${third} down`,
        async () =>
          (await page.locator(`#cluster [data-member="${third}"][data-status="down"]`).count()) ===
          1,
      );
      await until(
        `${next} as the new leader`,
        async () => (await text(page, "#raft-leader")) === next,
        () => raftView(page),
      );
      await sleep(1_500);
      const written = await load.stop();
      expect(written).toBeGreaterThan(200);

      // Phone width: one column, nothing wider than the screen.
      await page.setViewportSize({ width: 390, height: 844 });
      await sleep(500);
      const overflow = await page.evaluate<number>(
        "document.documentElement.scrollWidth - window.innerWidth",
      );
      expect(overflow).toBeLessThanOrEqual(0);
      await page.screenshot({ path: join(screenshots, "dashboard-phone.png"), fullPage: true });
      expect(errors).toEqual([]);
    },
    120_000,
  );
});
