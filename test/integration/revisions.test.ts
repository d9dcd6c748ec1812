import { afterEach, describe, expect, it } from "vitest";
import { cmp, op } from "../../src/client/revisions.js";
import { fastRaft, TestCluster } from "./harness.js";

let cluster: TestCluster | null = null;

afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

describe("revisions - through real processes (CONTRACT §5)", () => {
  it("revisions - identical on every node; txn; reads at a revision; range delete; compact", async () => {
    cluster = await TestCluster.start(3);
    const client = cluster.client();
    const first = await client.put("a", "1");
    expect(first.revision).toBe(first.index);
    const second = await client.put("a", "2", { prevKv: true });
    expect(second.prevKv).toMatchObject({ key: "a", value: "1", version: 1 });
    const txn = await client.txn({
      compare: [cmp.version("a", "==", 2), cmp.modRevision("a", "==", second.revision)],
      success: [op.put("b", "x"), op.get("a"), op.delete({ prefix: "nothing/" })],
      failure: [op.put("b", "wrong")],
    });
    expect(txn.succeeded).toBe(true);
    expect(txn.results).toEqual([
      { index: txn.revision, revision: txn.revision },
      expect.objectContaining({ found: true, value: "2", version: 2 }),
      { deleted: 0, index: txn.revision, revision: txn.revision },
    ]);
    const failed = await client.txn({
      compare: [cmp.value("a", "==", "1")],
      success: [op.put("b", "wrong")],
      failure: [op.get("b")],
    });
    expect(failed.succeeded).toBe(false);
    expect(failed.results[0]).toMatchObject({ value: "x", createRevision: txn.revision });
    await expect(client.txn({ success: [op.put("c", "1"), op.put("c", "2")] })).rejects.toThrow(
      /BAD_REQUEST/,
    );

    // Every node holds the same revisions, and reads the past the same way.
    const last = failed.revision;
    for (const node of cluster.nodes) {
      await cluster.waitForHealth(node.name, (h) => Number(h.appliedIndex) >= last);
      const one = cluster.client([node.name]);
      expect(await one.get("a", { consistency: "stale" }), node.name).toMatchObject({
        value: "2",
        createRevision: first.revision,
        modRevision: second.revision,
        version: 2,
        lease: null,
      });
      expect(await one.get("a", { consistency: "stale", revision: first.revision })).toMatchObject({
        value: "1",
        revision: first.revision,
        version: 1,
      });
      expect(
        (await one.scan({ consistency: "stale", revision: first.revision })).items.map(
          (item) => item.key,
        ),
      ).toEqual(["a"]);
    }

    // scan: limit cuts (more), count counts the whole range; delete by prefix counts.
    for (const key of ["p/1", "p/2", "p/3"]) await client.put(key, "v");
    const scanned = await client.scan({ prefix: "p/", limit: 2, keysOnly: true });
    expect(scanned).toMatchObject({ more: true, count: 3 });
    expect(scanned.items.map((item) => Object.keys(item).includes("value"))).toEqual([
      false,
      false,
    ]);
    const deleted = await client.deleteRange({ prefix: "p/" });
    expect(deleted.deleted).toBe(3);
    expect((await client.scan({ prefix: "p/", revision: deleted.revision - 1 })).count).toBe(3);

    const gone = await client.delete("b", { prevKv: true });
    expect(gone).toMatchObject({ deleted: true, prevKvs: [{ key: "b", value: "x" }] });
    expect(gone.revision).toBe(gone.index);

    // compact: the compacted revision stays readable, older ones are COMPACTED on every node.
    expect((await client.compact(second.revision)).revision).toBe(second.revision);
    const compactedAt = (await client.put("z", "1")).revision;
    for (const node of cluster.nodes) {
      await cluster.waitForHealth(node.name, (h) => Number(h.appliedIndex) >= compactedAt);
      const one = cluster.client([node.name]);
      expect((await one.get("a", { consistency: "stale", revision: second.revision })).value).toBe(
        "2",
      );
      await expect(
        one.get("a", { consistency: "stale", revision: first.revision }),
      ).rejects.toThrow(/COMPACTED.*oldest kept revision is/);
    }
  });

  it("revisions - compact needs the admin token; txn retried in a session applies once", async () => {
    cluster = await TestCluster.start(1, {
      auth: { clientToken: "client-secret", adminToken: "admin-secret" },
    });
    const user = cluster.client(["n1"], { token: "client-secret", session: "s" });
    const admin = cluster.client(["n1"], { token: "admin-secret" });
    const { revision } = await user.put("k", "1");
    await expect(user.compact(revision)).rejects.toThrow(/UNAUTHORIZED/);
    expect((await admin.compact(revision)).revision).toBe(revision);
    const txn = {
      op: "txn",
      compare: [{ key: "k", target: "version", op: "==", value: 1 }],
      success: [{ op: "put", key: "k", value: "2" }],
      session: "retry",
      seq: 1,
    };
    const first = await user.request(txn);
    expect(first.succeeded).toBe(true);
    // The retry is answered as the first time, though the compare would fail now.
    expect(await user.request(txn)).toEqual(first);
    expect((await user.get("k")).version).toBe(2);
  });

  it("revisions - the memory engine's history comes back from the snapshot and the log after a restart", async () => {
    cluster = await TestCluster.start(1, {
      engines: { kv: "memory" },
      raft: { ...fastRaft, snapshotEvery: 4, snapshotRetainEntries: 0 },
    });
    const client = cluster.client();
    const revisions: number[] = [];
    for (let k = 0; k < 10; k++) revisions.push((await client.put("k", String(k))).revision);
    await cluster.kill("n1", "SIGKILL");
    cluster.restart("n1");
    await cluster.waitForLeader();
    const after = cluster.client();
    for (const [k, revision] of revisions.entries())
      expect(await after.get("k", { revision }), `at ${revision}`).toMatchObject({
        value: String(k),
        version: k + 1,
        modRevision: revision,
      });
  });
});
