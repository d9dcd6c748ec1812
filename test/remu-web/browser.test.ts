import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cluster } from "../../src/remu/cluster.js";
import { InvariantKind, InvariantViolation } from "../../src/remu/invariants.js";
import { exportRecording, type Recording, runEmulation } from "../../src/remu/mod.js";
import { renderRemuPage, serveRemuPage } from "../../src/remu/web/mod.js";

// Drives the web view in Debian's chromium (apt-get install chromium); skipped without it.
const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.warn(
    `remu web view browser tests SKIPPED: ${CHROMIUM} is absent (apt-get install chromium)`,
  );
}

const SCREENSHOT = join("test-results", "remu-web.png");

interface PageState {
  pos: number;
  posText: string;
  rows: { node: string; cells: Record<string, string>; changed: string[] }[];
  currentRow: string | null;
  arrows: number;
  touching: number;
  diagram: string;
}

// Runs in the page (plain JS: the test's TypeScript has no DOM types).
const READ_PAGE = `(() => {
  const rows = [...document.querySelectorAll("#state tbody tr")].map((tr) => {
    const cells = {};
    const changed = [];
    for (const td of tr.querySelectorAll("td[data-col]")) {
      const col = td.getAttribute("data-col");
      cells[col] = td.textContent;
      if (td.classList.contains("changed")) changed.push(col);
    }
    return { node: tr.getAttribute("data-node"), cells, changed };
  });
  const current = document.querySelector("#diagram g.row.cur");
  return {
    pos: window.remu.pos,
    posText: document.getElementById("pos").textContent,
    rows,
    currentRow: current ? current.getAttribute("data-step") : null,
    arrows: document.querySelectorAll("#diagram g.msg").length,
    touching: document.querySelectorAll("#diagram g.msg.touching").length,
    diagram: document.getElementById("diagram").innerHTML,
  };
})()`;

function readPage(page: Page): Promise<PageState> {
  return page.evaluate<PageState>(READ_PAGE);
}

/** The state the table must show at position `pos`, decoded from the recording. */
function expectedState(recording: Recording, pos: number): Map<string, unknown[]> {
  const state = new Map<string, unknown[]>();
  for (let k = 0; k <= pos; k++) {
    for (const entry of recording.steps[k]!.st ?? []) state.set(recording.nodes[entry[0]]!, entry);
  }
  return state;
}

function checkTable(recording: Recording, view: PageState): void {
  const state = expectedState(recording, view.pos);
  expect(view.rows.map((r) => r.node)).toEqual(recording.nodes);
  for (const row of view.rows) {
    const [, up, role, term, leader, commit, applied, lastIndex] = state.get(row.node)!;
    expect(row.cells.role).toBe(up ? role : "down");
    expect(row.cells.term).toBe(String(term));
    expect(row.cells.leader).toBe(leader === "" ? "—" : leader);
    expect(row.cells.commit).toBe(String(commit));
    expect(row.cells.applied).toBe(String(applied));
    expect(row.cells.last).toBe(String(lastIndex));
  }
}

describe("remu web view in a browser", () => {
  let context: BrowserContext;
  let profile: string;
  const errors: string[] = [];

  beforeAll(async () => {
    if (!hasChromium) return;
    profile = mkdtempSync(join(tmpdir(), "remu-web-chromium-"));
    // A persistent context is how playwright takes a fresh --user-data-dir.
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1500, height: 1000 },
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  });

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  async function open(url: string): Promise<Page> {
    const page = await context.newPage();
    page.on("pageerror", (error) => errors.push(error.message));
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    await page.goto(url);
    await page.waitForSelector("#state tbody tr");
    return page;
  }

  it.skipIf(!hasChromium)(
    "steps with the buttons and the keyboard, runs to a breakpoint, and screenshots",
    async () => {
      const run = runEmulation({
        nodes: 3,
        seed: 3,
        steps: 1_500,
        faults: ["drop", "crash", "partition", "snapshot"],
        record: true,
      });
      const recording = run.recording!;
      expect(run.ok).toBe(true);
      const served = await serveRemuPage(recording, 0);
      try {
        const page = await open(served.url);
        // A run that passed opens at its first step.
        let view = await readPage(page);
        expect(view.pos).toBe(0);
        expect(view.posText).toContain("step #0 /");
        checkTable(recording, view);
        expect(await page.locator("#failure").isHidden()).toBe(true);

        // One event forward with the button.
        await page.click("#btn-fwd");
        view = await readPage(page);
        expect(view.pos).toBe(1);
        expect(view.posText).toContain("step #1 /");
        expect(view.currentRow).toBe("1");
        checkTable(recording, view);

        // And with the keyboard: → and ←, shift for ten.
        await page.locator("body").click({ position: { x: 5, y: 5 } });
        await page.keyboard.press("ArrowRight");
        expect((await readPage(page)).pos).toBe(2);
        await page.keyboard.press("Shift+ArrowRight");
        expect((await readPage(page)).pos).toBe(12);
        await page.keyboard.press("ArrowLeft");
        view = await readPage(page);
        expect(view.pos).toBe(11);
        checkTable(recording, view);
        await page.keyboard.press("End");
        expect((await readPage(page)).pos).toBe(recording.steps.length - 1);
        await page.keyboard.press("Home");
        expect((await readPage(page)).pos).toBe(0);

        // Step to a delivery: an arrow ends on the current step, and stepping redraws them.
        const delivery = recording.steps.findIndex((s, k) => k > 50 && s.r?.[1] === 1);
        await page.keyboard.press("PageDown");
        expect((await readPage(page)).pos).toBe(100);
        // The slider goes anywhere.
        await page.locator("#slider").fill(String(delivery - 1));
        const before = await readPage(page);
        expect(before.pos).toBe(delivery - 1);
        await page.locator("body").click({ position: { x: 5, y: 5 } });
        await page.keyboard.press("ArrowRight");
        view = await readPage(page);
        expect(view.pos).toBe(delivery);
        expect(view.currentRow).toBe(String(delivery));
        expect(view.arrows).toBeGreaterThan(0);
        expect(view.touching).toBeGreaterThan(0);
        expect(view.diagram).not.toBe(before.diagram);
        checkTable(recording, view);

        // A breakpoint: run to the first later step where some node's term passes 1.
        const firstTerm2 = recording.steps.findIndex((s) => s.st?.some((e) => e[3] > 1));
        expect(firstTerm2).toBeGreaterThan(delivery);
        await page.fill("#bp", "term > 1");
        await page.click("#bp-run");
        view = await readPage(page);
        expect(view.pos).toBe(firstTerm2);
        expect(await page.textContent("#bp-status")).toContain(`holds at step #${firstTerm2}`);
        checkTable(recording, view);
        expect(view.rows.some((r) => Number(r.cells.term) > 1 && r.changed.includes("term"))).toBe(
          true,
        );
        mkdirSync("test-results", { recursive: true });
        await page.screenshot({ path: SCREENSHOT, fullPage: true });
        // Then on, event by event.
        await page.locator("body").click({ position: { x: 5, y: 5 } });
        await page.keyboard.press("ArrowRight");
        expect((await readPage(page)).pos).toBe(firstTerm2 + 1);

        // More conditions: the language, and an error for nonsense.
        await page.fill("#bp", "leaders >= 1 && role(n3) == follower");
        await page.press("#bp", "Enter");
        expect(await page.textContent("#bp-status")).toMatch(
          /holds at step|holds at no later step/,
        );
        await page.fill("#bp", "term >");
        await page.click("#bp-run");
        expect(await page.getAttribute("#bp", "class")).toContain("bad");

        // Filters: hiding every message type empties the diagram of arrows.
        await page.click("#type-filter .chip[data-types='noheart']");
        const typeChips = page.locator("#type-filter .chip[data-type]");
        for (let k = 0; k < (await typeChips.count()); k++) {
          const chip = typeChips.nth(k);
          if (!(await chip.getAttribute("class"))!.includes("off")) await chip.click();
        }
        expect((await readPage(page)).arrows).toBe(0);
        await page.click("#type-filter .chip[data-types='all']");
        expect((await readPage(page)).arrows).toBeGreaterThan(0);
        expect(errors).toEqual([]);
        expect(existsSync(SCREENSHOT)).toBe(true);
      } finally {
        await served.close();
      }
    },
    60_000,
  );

  it.skipIf(!hasChromium)("opens a failed run at the step that broke it", async () => {
    const cluster = new Cluster({ nodes: 3, seed: 9, record: true });
    cluster.runUntil(() => cluster.leaders().length === 1, 5_000);
    cluster.at(15, "the bug", () => {
      throw new InvariantViolation(
        InvariantKind.electionSafety,
        "n1 and n2 both leaders of term 2",
      );
    });
    expect(() => cluster.runFor(200)).toThrow(InvariantViolation);
    const failure = "InvariantViolation: election-safety: n1 and n2 both leaders of term 2";
    cluster.recorder!.markFailure(failure);
    // A few steps after it, as a run that goes on would have.
    const recording = exportRecording(cluster.recorder!, {
      title: "a failing run",
      ok: false,
      exitCode: 2,
      failure,
      parameters: { seed: 9, nodes: 3 },
    });
    const dir = mkdtempSync(join(tmpdir(), "remu-web-fail-"));
    try {
      const file = join(dir, "index.html");
      writeFileSync(file, renderRemuPage(recording));
      const page = await open(pathToFileURL(file).href);
      const view = await readPage(page);
      expect(view.pos).toBe(recording.failStep! - recording.first);
      expect(view.currentRow).toBe(String(view.pos));
      expect(await page.textContent("#failure")).toContain(failure);
      expect(await page.textContent("#failure")).toContain(`at step #${recording.failStep}`);
      expect(await page.textContent("#detail")).toContain(failure);
      await page.screenshot({ path: join("test-results", "remu-web-failed.png"), fullPage: true });
      // Away and back with the failure's button.
      await page.keyboard.press("Home");
      expect((await readPage(page)).pos).toBe(0);
      await page.click("#btn-fail");
      expect((await readPage(page)).pos).toBe(recording.failStep! - recording.first);
      expect(errors).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
