import { describe, expect, it } from "vitest";
import { merged, parseKvOptions } from "../../ops/bench/kv-options.js";

describe("bench options - another build and config overrides", () => {
  it("bench - --stageraft-config is merged into the node config key by key", () => {
    expect(merged({ a: { b: 1, c: 2 }, d: [1] }, { a: { c: 3 }, d: [2], e: null })).toEqual({
      a: { b: 1, c: 3 },
      d: [2],
      e: null,
    });
    const config = parseKvOptions([
      "node",
      "bench",
      "--stageraft-config",
      '{"limits":{"admissionLatencyMs":0},"wal":{"engine":"level"}}',
      "--stageraft-cli",
      "/tmp/other/dist/src/cli.js",
    ]);
    expect(config.stageraftConfig).toMatchObject({
      limits: { admissionLatencyMs: 0 },
      wal: { sync: true, engine: "level" },
    });
    expect(config.settings.stageraftCli).toBe("/tmp/other/dist/src/cli.js");
  });
});
