import { describe, expect, it, vi } from "vitest";
import { merged, parseKvOptions } from "../../ops/bench/kv-options.js";
import { EtcdGrpcTarget, makeTarget, StageraftTarget } from "../../ops/bench/load-targets.js";

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

describe("bench options - --stageraft-client", () => {
  const data = { keys: ["k"], values: ["v"], keys64: ["aw=="], values64: ["dg=="], valueBytes: 1 };
  const targetOptions = { window: 1, requestTimeoutMs: 1_000, etcdClient: "grpc" as const };

  it("bench - stageraft's own WebSocket client stays the default", () => {
    const config = parseKvOptions(["node", "bench"]);
    expect(config.options.stageraftClient).toBe("ws");
    expect(config.settings.stageraftClient).toBe("ws");
    const target = makeTarget("stageraft", "127.0.0.1:1", data, {
      ...targetOptions,
      stageraftClient: "ws",
    });
    expect(target).toBeInstanceOf(StageraftTarget);
    target.close();
  });

  it("bench - etcd3 drives stageraft through the same target class as etcd", () => {
    const config = parseKvOptions(["node", "bench", "--stageraft-client", "etcd3", "--quick"]);
    expect(config.options.stageraftClient).toBe("etcd3");
    expect(config.settings.stageraftClient).toBe("etcd3");
    const options = { ...targetOptions, stageraftClient: config.options.stageraftClient };
    const stageraft = makeTarget("stageraft", "127.0.0.1:1", data, options);
    const etcd = makeTarget("etcd", "127.0.0.1:1", data, options);
    expect(stageraft).toBeInstanceOf(EtcdGrpcTarget);
    expect(etcd.constructor).toBe(stageraft.constructor);
    stageraft.close();
    etcd.close();
  });

  it("bench - an unknown client is refused, naming the choices", () => {
    const exit = vi.spyOn(process, "exit").mockImplementation((code) => {
      throw new Error(`exit ${code}`);
    });
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      expect(() => parseKvOptions(["node", "bench", "--stageraft-client", "grpc"])).toThrow(
        "exit 1",
      );
      expect(String(stderr.mock.calls[0]?.[0])).toMatch(/--stageraft-client.*ws, etcd3/s);
    } finally {
      exit.mockRestore();
      stderr.mockRestore();
    }
  });
});
