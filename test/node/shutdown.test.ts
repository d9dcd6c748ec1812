import pino from "pino";
import { describe, expect, it } from "vitest";
import { type Closer, runClosers } from "../../src/shutdown.js";

function recordingLog() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: "debug" }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { log, lines };
}

describe("shutdown - runClosers", () => {
  it("shutdown - every step runs in order, and the stop is clean", async () => {
    const { log } = recordingLog();
    const ran: string[] = [];
    const step = (name: string): Closer => ({ name, close: async () => void ran.push(name) });
    expect(await runClosers([step("a"), step("b"), step("c")], 1_000, log)).toBe("clean");
    expect(ran).toEqual(["a", "b", "c"]);
  });

  it("shutdown - a step past the deadline is logged with what it waits for; the rest are skipped", async () => {
    const { log, lines } = recordingLog();
    const ran: string[] = [];
    const started = Date.now();
    const outcome = await runClosers(
      [
        { name: "quick", close: () => void ran.push("quick") },
        {
          name: "stuck",
          close: () => new Promise<void>(() => {}),
          pending: () => ({ snapshotWriting: 42 }),
        },
        { name: "storage", close: () => void ran.push("storage") },
      ],
      100,
      log,
    );
    expect(outcome).toBe("forced");
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(ran).toEqual(["quick"]);
    const overran = lines.find((line) => line.step === "stuck" && line.level === 50);
    expect(overran?.waitingFor).toEqual({ snapshotWriting: 42 });
    expect(String(overran?.msg)).toContain("stop deadline passed");
  });

  it("shutdown - a step that fails ends the stop as forced, and is logged", async () => {
    const { log, lines } = recordingLog();
    const ran: string[] = [];
    const outcome = await runClosers(
      [
        {
          name: "drain",
          close: async () => {
            throw new Error("still busy");
          },
        },
        { name: "storage", close: () => void ran.push("storage") },
      ],
      1_000,
      log,
    );
    expect(outcome).toBe("forced");
    expect(ran).toEqual([]);
    expect(lines.some((line) => line.step === "drain" && line.level === 50)).toBe(true);
  });
});
