import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type Recording, runEmulation } from "../../src/remu/mod.js";
import {
  readEmbeddedRecording,
  renderRemuPage,
  serveRemuPage,
  writeRemuPage,
} from "../../src/remu/web/mod.js";

const run = runEmulation({
  nodes: 3,
  seed: 3,
  steps: 1_500,
  faults: ["drop", "crash", "partition"],
  record: true,
});
const recording = run.recording!;
const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "remu-web-"));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("remu web page", () => {
  it("embeds the recording as JSON that parses back out", () => {
    const html = renderRemuPage(recording);
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html).toContain('<script id="remu-data" type="application/json">');
    const parsed = readEmbeddedRecording(html);
    expect(parsed).toEqual(JSON.parse(JSON.stringify(recording)));
    expect(parsed.steps).toHaveLength(recording.steps.length);
    expect(parsed.nodes).toEqual(["n1", "n2", "n3"]);
    expect(parsed.meta.parameters.seed).toBe(3);
    // Self-contained: no external resource of any kind.
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)="(?!data:)/i);
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });

  it("the legend shows every lifeline style the diagram draws", () => {
    const html = renderRemuPage(recording);
    const legend = /<div class="legend">([\s\S]*?)<\/div>/.exec(html)![1]!;
    // The diagram's lifelines: follower, candidate, down (dashed); a leader is a bar.
    const styles = [
      ["follower", 'stroke="#94a3b8" stroke-width="1.2"'],
      ["candidate", 'stroke="#f59e0b" stroke-width="3"'],
      ["down", 'stroke="#cbd5e1" stroke-width="1.5" stroke-dasharray="2 3"'],
      ["leader", 'fill-opacity=".45"'],
    ] as const;
    for (const [role, style] of styles) {
      expect(html, `the diagram draws ${role} with ${style}`).toContain(style);
      expect(legend, `the legend shows ${role}'s lifeline`).toMatch(
        new RegExp(`${style.replace(/[.*+?^$()|[\]\\]/g, "\\$&")}[^<]*/></svg>[^<]*${role}`),
      );
    }
  });

  it("escapes what could end the data's script element", () => {
    const hostile: Recording = {
      ...recording,
      meta: { ...recording.meta, title: "<b>x</b>", failure: "</script><script>alert(1)</script>" },
    };
    const html = renderRemuPage(hostile);
    expect(html.match(/<\/script>/g)).toHaveLength(2); // the data's and the code's own
    expect(html).toContain("<title>&lt;b&gt;x&lt;/b&gt;</title>");
    expect(readEmbeddedRecording(html).meta.failure).toBe("</script><script>alert(1)</script>");
  });

  it("writes index.html and run.json", () => {
    const dir = tempDir();
    const paths = writeRemuPage(join(dir, "view"), recording);
    expect(paths.html).toBe(join(dir, "view", "index.html"));
    const html = readFileSync(paths.html, "utf8");
    expect(readEmbeddedRecording(html)).toEqual(JSON.parse(readFileSync(paths.json, "utf8")));
  });

  it("is served on 127.0.0.1", async () => {
    const served = await serveRemuPage(recording, 0);
    try {
      expect(served.url).toBe(`http://127.0.0.1:${served.port}/`);
      const page = await fetch(served.url);
      expect(page.status).toBe(200);
      expect(page.headers.get("content-type")).toContain("text/html");
      expect(readEmbeddedRecording(await page.text()).total).toBe(recording.total);
      const json = await fetch(new URL("run.json", served.url));
      expect(((await json.json()) as Recording).steps).toHaveLength(recording.steps.length);
      expect((await fetch(new URL("nothing", served.url))).status).toBe(404);
      expect((await fetch(served.url, { method: "POST" })).status).toBe(405);
    } finally {
      await served.close();
    }
  });

  it("stageraft remu --out DIR --web 0 writes the page and serves it until interrupted", async () => {
    const dir = tempDir();
    const viteNode = join("node_modules", "vite-node", "vite-node.mjs");
    expect(existsSync(viteNode)).toBe(true);
    const child = spawn(
      process.execPath,
      [
        viteNode,
        "src/cli.ts",
        "remu",
        "--seed",
        "4",
        "--steps",
        "800",
        "--faults",
        "crash,drop",
        "--out",
        dir,
        "--web",
        "0",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL printed:\n${output}`)), 45_000);
        child.stdout.on("data", () => {
          const match = /web view of seed 4: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output);
          if (match) {
            clearTimeout(timer);
            resolve(match[1]!);
          }
        });
      });
      expect(output).toContain("OK: every invariant held");
      expect(output).toContain(`web view of seed 4: ${join(dir, "index.html")}`);
      const served = readEmbeddedRecording(await (await fetch(url)).text());
      const written = readEmbeddedRecording(readFileSync(join(dir, "index.html"), "utf8"));
      expect(served).toEqual(written);
      expect(written.meta.parameters.seed).toBe(4);
      child.kill("SIGINT");
      expect(await exited).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  }, 60_000);
});
