import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { unpackArchive } from "../../storage/archive.js";
import { fastRaft, TestCluster } from "./harness.js";

let cluster: TestCluster | null = null;

afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

describe("vector config - engines per collection from the config file", () => {
  it("vector config - engines.collections sets a collection's engine and parameters; vcreate fields win", async () => {
    cluster = await TestCluster.start(1, {
      raft: fastRaft,
      engines: {
        vector: "hnsw",
        collections: { exact: { engine: "flat" }, tuned: { m: 8, efSearch: 32 } },
      },
    });
    const client = cluster.client();
    await client.vcreate("exact", { dim: 2, metric: "l2" });
    await client.vcreate("tuned", { dim: 2, metric: "l2" });
    await client.vcreate("plain", { dim: 2, metric: "l2", engine: "flat" });
    await client.vput("exact", "a", [1, 2]);
    const { index } = await client.snapshot();
    const work = await mkdtemp(join(tmpdir(), "stageraft-vcfg-"));
    try {
      await unpackArchive(join(cluster.node("n1").dataDir, "snap", `snap-${index}.bin`), work);
      const manifest = JSON.parse(
        await readFile(join(work, "vectors", "manifest.json"), "utf8"),
      ) as {
        collections: {
          name: string;
          spec: { engine: string; params: { m: number; efSearch: number } };
        }[];
      };
      const spec = Object.fromEntries(manifest.collections.map((c) => [c.name, c.spec]));
      expect(spec.exact?.engine).toBe("flat");
      expect(spec.tuned).toMatchObject({
        engine: "hnsw",
        params: { m: 8, efSearch: 32, efConstruction: 200 },
      });
      expect(spec.plain?.engine).toBe("flat");
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});
