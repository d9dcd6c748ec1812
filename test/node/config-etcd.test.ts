import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";

const base = {
  name: "n1",
  dataDir: "/tmp/x",
  listenClient: "127.0.0.1:7001",
  listenPeer: "127.0.0.1:8001",
  initialCluster: "n1=127.0.0.1:8001",
};

describe("config - listenEtcd (--listen-etcd, CONTRACT §7)", () => {
  it("unset: the etcd door is not served; set: a host:port", () => {
    expect(loadConfig(base).listenEtcd).toBeUndefined();
    expect(loadConfig({ ...base, listenEtcd: "127.0.0.1:2379" }).listenEtcd).toBe("127.0.0.1:2379");
  });

  it("a bad address stops the start with a message naming the key", () => {
    expect(() => loadConfig({ ...base, listenEtcd: "2379" })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, listenEtcd: "2379" })).toThrow(/listenEtcd/);
  });
});
