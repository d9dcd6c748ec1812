import { describe, expect, it } from "vitest";
import { flood } from "../../ops/bench/flood.js";
import type { ScenarioClient } from "../../ops/bench/scenario-clients.js";
import { StageraftError } from "../../src/mod.js";

/**
 * The flood phase's accounting (ops/bench/flood.ts): an error the server sent is an answer,
 * a lost connection or the client's own timeout is not, and only ok requests are "admitted".
 */
class ScriptedClient implements ScenarioClient {
  constructor(private readonly answer: (k: number) => Promise<string>) {}
  private k = 0;
  put(): Promise<string> {
    return this.answer(this.k++);
  }
  async get(): Promise<boolean> {
    return true;
  }
  close(): void {}
}

const settleIn = (ms: number, error?: Error) =>
  new Promise<string>((resolve, reject) =>
    setTimeout(() => (error === undefined ? resolve("") : reject(error)), ms),
  );

describe("bench flood", () => {
  it("flood - ok, OVERLOADED, a server's TIMEOUT and the client's own timeout are counted apart", async () => {
    const clientTimeoutMs = 50;
    const client = new ScriptedClient((k) => {
      if (k % 5 === 0) return settleIn(1);
      if (k % 5 === 1) return settleIn(1, new StageraftError("OVERLOADED", "queue full"));
      // The server's TIMEOUT comes well before the client's limit: an answer.
      if (k % 5 === 2) return settleIn(1, new StageraftError("TIMEOUT", "no answer in time (5 s)"));
      if (k % 5 === 3)
        return settleIn(clientTimeoutMs, new StageraftError("TIMEOUT", "client gave up"));
      return settleIn(1, new StageraftError("CONNECTION", "socket closed"));
    });
    const report = await flood([client], 10, "v", clientTimeoutMs);
    expect(report).toMatchObject({
      requests: 10,
      ok: 2,
      overloaded: 2,
      otherErrors: { TIMEOUT: 2 },
      unanswered: { TIMEOUT: 2, CONNECTION: 2 },
      allAnswered: false,
    });
    expect(report.admittedP99Ms).not.toBeNull();
  });

  it("flood - every request answered when each is ok or refused", async () => {
    const client = new ScriptedClient((k) =>
      k % 2 === 0
        ? settleIn(1)
        : settleIn(1, new StageraftError("OVERLOADED", "too many in flight")),
    );
    const report = await flood([client, client], 8, "v", 1_000);
    expect(report).toMatchObject({ ok: 4, overloaded: 4, otherErrors: {}, unanswered: {} });
    expect(report.allAnswered).toBe(true);
  });
});
