import { describe, expect, it } from "vitest";
import { type FailedAttempt, mostTelling, StageraftError } from "../../src/client/errors.js";

const refused = (endpoint: string): FailedAttempt => ({
  endpoint,
  error: new StageraftError("CONNECTION", `${endpoint}: connect ECONNREFUSED ${endpoint}`),
});
const unavailable = (endpoint: string): FailedAttempt => ({
  endpoint,
  error: new StageraftError("UNAVAILABLE", "no leader is known"),
});

/** Every order of `items`. */
function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, k) =>
    permutations([...items.slice(0, k), ...items.slice(k + 1)]).map((rest) => [item, ...rest]),
  );
}

describe("client errors", () => {
  it("mostTelling - a node's answer beats refused connections, in every order of the attempts", () => {
    const attempts = [refused("a:1"), unavailable("b:2"), refused("c:3")];
    for (const order of permutations(attempts)) {
      const error = mostTelling([...order, ...order]);
      expect(error.code).toBe("UNAVAILABLE");
      expect(error.message).toMatch(/^UNAVAILABLE: no leader is known \(tried /);
      for (const endpoint of ["a:1 ECONNREFUSED", "b:2 UNAVAILABLE", "c:3 ECONNREFUSED"])
        expect(error.message).toContain(endpoint);
    }
  });

  it("mostTelling - among answers the latest wins; one endpoint gives its error unchanged", () => {
    const timeout = { endpoint: "a:1", error: new StageraftError("TIMEOUT", "no answer") };
    expect(mostTelling([unavailable("b:2"), timeout]).code).toBe("TIMEOUT");
    const only = refused("a:1");
    expect(mostTelling([only, only])).toBe(only.error);
    expect(mostTelling([refused("a:1"), refused("b:2")]).code).toBe("CONNECTION");
  });
});
