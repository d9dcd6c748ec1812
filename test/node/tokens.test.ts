import { describe, expect, test } from "vitest";
import { clientAccess, holdsToken, tokenMatches } from "../../stages/ingress/tokens.js";

describe("tokens", () => {
  test("tokens - a token matches only itself, whatever the lengths", () => {
    expect(tokenMatches("secret", "secret")).toBe(true);
    for (const given of ["secreT", "secret ", "s", "", "x".repeat(10_000), null])
      expect(tokenMatches(given, "secret"), String(given)).toBe(false);
  });

  test("tokens - /v1's rule: admin with the admin token, or everyone when none is set", () => {
    const both = { clientToken: "c", adminToken: "a" };
    expect(clientAccess("a", both)).toEqual({ admin: true });
    expect(clientAccess("c", both)).toEqual({ admin: false });
    expect(clientAccess(null, both)).toBeNull();
    expect(clientAccess(null, { clientToken: null, adminToken: "a" })).toEqual({ admin: false });
    expect(clientAccess(null, { clientToken: "c", adminToken: null })).toBeNull();
    expect(clientAccess("c", { clientToken: "c", adminToken: null })).toEqual({ admin: true });
    expect(clientAccess(null, { clientToken: null, adminToken: null })).toEqual({ admin: true });
  });

  test("tokens - protectHttp's rule: a set client or admin token", () => {
    expect(holdsToken("c", { clientToken: "c", adminToken: null })).toBe(true);
    expect(holdsToken("a", { clientToken: "c", adminToken: "a" })).toBe(true);
    expect(holdsToken(null, { clientToken: null, adminToken: "a" })).toBe(false);
    expect(holdsToken("x", { clientToken: "c", adminToken: "a" })).toBe(false);
  });
});
