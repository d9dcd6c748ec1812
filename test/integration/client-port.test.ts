import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { freePort, type NodeProcess, TestCluster } from "./harness.js";

let cluster: TestCluster | null = null;

afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

describe("client port - exclusive listen", () => {
  it("client port - a second node on a client port in use exits non-zero; the first serves on", async () => {
    cluster = await TestCluster.start(1);
    const first = cluster.node("n1");
    const intruder: NodeProcess = {
      name: "n2",
      client: first.client,
      peer: `127.0.0.1:${await freePort()}`,
      dataDir: join(cluster.root, "n2"),
      process: null,
      output: "",
      exitCode: null,
      exited: Promise.resolve(null),
    };
    cluster.nodes.push(intruder);
    cluster.spawn(intruder);
    // Without an exclusive listen the intruder starts and serves: it never exits.
    const code = await Promise.race([
      intruder.exited,
      new Promise<"running">((resolve) => setTimeout(() => resolve("running"), 15_000)),
    ]);
    expect(code, intruder.output).not.toBe("running");
    expect(code).not.toBe(0);
    expect(intruder.output).toMatch(/port in use/);
    expect(intruder.output).toContain(first.client);

    // The first node is unaffected: still running, still the one answering on its port.
    expect(first.process).not.toBeNull();
    const client = cluster.client(["n1"]);
    for (let k = 0; k < 20; k++) {
      const status = await client.status();
      expect(status.name).toBe("n1");
    }
    await client.put("still", "here");
    expect((await client.get("still")).value).toBe("here");
  });
});
