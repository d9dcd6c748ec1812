import { afterEach, describe, expect, it } from "vitest";
import { cmp, op } from "../../src/client/revisions.js";
import { TestCluster } from "./harness.js";

/**
 * The txn additions through real processes and the typed client (CONTRACT §5, issue 17):
 * a nested txn, a compare over a range, a read at a revision inside a txn, ignoreValue /
 * ignoreLease — sent to every node in turn (followers forward them as they are), and every
 * node then holds the same state.
 */

let cluster: TestCluster | null = null;

afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

describe("txn additions - through real processes", () => {
  it("nested txn, range compare, read at a revision, ignoreValue/ignoreLease, on every node alike", async () => {
    cluster = await TestCluster.start(3);
    const [n1, n2, n3] = cluster.nodes.map((node) => cluster!.client([node.name]));
    const first = await n1!.put("cfg/a", "1");
    await n1!.put("cfg/b", "2");
    const lease = await n1!.leases.grant(600);
    await n1!.put("held", "v", { lease: lease.lease });

    // Through a node that may be a follower: the nested shape is forwarded and decoded again.
    const nested = await n2!.txn({
      compare: [cmp.version({ prefix: "cfg/" }, ">", 0)],
      success: [
        op.put("cfg/a", "10"),
        op.txn({
          // Decided before the put above ran: cfg/a is still "1".
          compare: [cmp.value("cfg/a", "==", "1")],
          success: [op.put("seen", "old"), op.get("cfg/a", { revision: first.revision })],
          failure: [op.put("seen", "new")],
        }),
        op.get("cfg/a"),
        op.put("held", "", { ignoreValue: true, ignoreLease: true, prevKv: true }),
      ],
    });
    expect(nested.succeeded).toBe(true);
    const [, inner, current, kept] = nested.results;
    expect(inner).toMatchObject({
      succeeded: true,
      results: [
        { revision: nested.revision },
        { found: true, value: "1", modRevision: first.revision },
      ],
    });
    expect(current).toMatchObject({ value: "10", modRevision: nested.revision });
    expect(kept).toMatchObject({ prevKv: { value: "v", lease: lease.lease } });

    // A range compare that fails on one key; an empty range is one absent key.
    const partial = await n3!.txn({
      compare: [cmp.value({ start: "cfg/", end: "cfg0" }, "==", "10")],
      success: [op.put("x", "wrong")],
      failure: [op.txn({ compare: [cmp.version({ prefix: "none/" }, "==", 0)], success: [] })],
    });
    expect(partial).toMatchObject({ succeeded: false, results: [{ succeeded: true }] });

    // Errors: nothing of the txn is done.
    await expect(
      n2!.txn({ success: [op.put("y", "1"), op.put("absent", "", { ignoreValue: true })] }),
    ).rejects.toThrow(/BAD_REQUEST.*ignoreValue\/ignoreLease: the key "absent" is not found/);
    await expect(
      n3!.txn({ success: [op.put("y", "1"), op.get("cfg/a", { revision: 1e12 })] }),
    ).rejects.toThrow(/BAD_REQUEST.*inside the txn is past the current revision/);
    await expect(
      n1!.txn({ success: [op.put("y", "1"), op.txn({ success: [op.put("y", "2")] })] }),
    ).rejects.toThrow(/BAD_REQUEST.*"y" is put twice/);
    const leased = await n1!.put("held", "w", { ignoreLease: true });

    for (const node of cluster.nodes) {
      await cluster.waitForHealth(node.name, (h) => Number(h.appliedIndex) >= leased.revision);
      const one = cluster.client([node.name]);
      const items = (await one.scan({ consistency: "stale" })).items;
      expect(
        items.map((kv) => [kv.key, kv.value, kv.lease]),
        node.name,
      ).toEqual([
        ["cfg/a", "10", null],
        ["cfg/b", "2", null],
        ["held", "w", lease.lease],
        ["seen", "old", null],
      ]);
    }
  });
});
