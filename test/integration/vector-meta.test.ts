import { afterEach, describe, expect, it } from "vitest";
import { TestCluster } from "./harness.js";

let cluster: TestCluster | null = null;

afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

describe("vector meta - special field names through the log", () => {
  it("vector meta - __proto__, constructor and prototype round-trip exactly on every node", async () => {
    cluster = await TestCluster.start(3);
    const client = cluster.client();
    await client.vcreate("m", { dim: 2, metric: "l2", engine: "flat" });
    const meta = JSON.parse('{"__proto__":"x","constructor":"y","prototype":"z"}') as Record<
      string,
      string
    >;
    const nullProto = JSON.parse('{"__proto__":null}') as Record<string, null>;
    await client.vput("m", "a", [0, 0], meta);
    const put = await client.vput("m", "b", [5, 5], nullProto);
    for (const node of cluster.nodes) {
      await cluster.waitForHealth(node.name, (h) => Number(h.appliedIndex) >= put.index);
      const reader = cluster.client([node.name]);
      const { hits } = await reader.vsearch("m", [0, 0], 2, { consistency: "stale" });
      expect(
        hits.map((hit) => hit.key),
        node.name,
      ).toEqual(["a", "b"]);
      expect(JSON.stringify(hits[0]!.meta), node.name).toBe(JSON.stringify(meta));
      expect(JSON.stringify(hits[1]!.meta), node.name).toBe('{"__proto__":null}');
      // A filter on such a field selects by it like on any other field.
      const filtered = await reader.vsearch("m", [0, 0], 2, {
        consistency: "stale",
        filter: JSON.parse('{"__proto__":"x"}') as Record<string, string>,
      });
      expect(
        filtered.hits.map((hit) => hit.key),
        node.name,
      ).toEqual(["a"]);
      const byConstructor = await reader.vsearch("m", [0, 0], 2, {
        consistency: "stale",
        filter: { constructor: "y" },
      });
      expect(
        byConstructor.hits.map((hit) => hit.key),
        node.name,
      ).toEqual(["a"]);
    }
  });
});
