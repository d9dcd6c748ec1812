import { describe, expect, test } from "vitest";
import { renderDashboard } from "../../src/dashboard/page.js";

describe("dashboard page - links", () => {
  test("dashboard page - the footer links to /metrics when it is open", () => {
    expect(renderDashboard("n1")).toContain('<a href="/metrics">/metrics</a>');
  });

  test("dashboard page - under protectHttp the footer does not offer a link a browser gets 401 on", () => {
    // A link cannot carry a Bearer header, and /metrics takes no ?token=.
    for (const page of [
      renderDashboard("n1", { protectHttp: true, token: "t" }),
      renderDashboard("n1", { protectHttp: true }),
    ]) {
      expect(page).not.toContain('href="/metrics"');
      expect(page).toContain("/metrics needs a Bearer token");
    }
  });
});
