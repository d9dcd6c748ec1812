import pino from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { RaftStatus } from "../../raft/node.js";
import { fatalExit } from "../../src/fatal.js";

function recordingLog() {
  const lines: Record<string, unknown>[] = [];
  const log = pino(
    { base: { node: "n1" } },
    { write: (line: string) => lines.push(JSON.parse(line)) },
  );
  return { log, lines };
}

class Exited extends Error {}

function stubExit() {
  return vi.spyOn(process, "exit").mockImplementation((code) => {
    throw new Exited(String(code));
  });
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("fatal - the one fatal path", () => {
  it("fatal - logs node, group, term and index, then exits 70", () => {
    const exit = stubExit();
    const { log, lines } = recordingLog();
    const status = { group: 1, term: 7, appliedIndex: 41 } as RaftStatus;
    const fatal = fatalExit(log, () => status);
    expect(() => fatal(new Error("disk full"), { stage: "wal-append", message: "no WAL" })).toThrow(
      Exited,
    );
    expect(exit).toHaveBeenCalledWith(70);
    expect(lines[0]).toMatchObject({
      level: 60,
      node: "n1",
      stage: "wal-append",
      group: 1,
      term: 7,
      index: 41,
      msg: "no WAL",
    });
  });

  it("fatal - the stage's index wins; a core that cannot answer still exits 70", () => {
    const exit = stubExit();
    const { log, lines } = recordingLog();
    const fatal = fatalExit(log, () => {
      throw new Error("the core worker is gone");
    });
    expect(() => fatal(new Error("x"), { stage: "apply", message: "snap", index: 9 })).toThrow(
      Exited,
    );
    expect(exit).toHaveBeenCalledWith(70);
    expect(lines[0]).toMatchObject({ stage: "apply", group: null, term: null, index: 9 });
  });
});
