/**
 * The vector ops of CONTRACT §6 through a live 3-node cluster (real processes, durable WAL):
 * every replica ends in the same state (collections, counts, keys, meta, vectors, search
 * answers) after batches, meta updates, deletes by filter, drops and restarts, and after a
 * collection is dropped and recreated while a follower is down. Also the CLI's vector commands.
 */
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { type StageraftClient, StageraftError } from "../../src/mod.js";
import { clustered, prng } from "../vector/data.js";
import { fastRaft, TestCluster } from "./harness.js";

const SEED = 0x0ec7_0013;
const DIM = 8;
const config = { raft: { ...fastRaft, snapshotEvery: 40, snapshotRetainEntries: 5 } };

let cluster: TestCluster | null = null;

afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

const queries = clustered(SEED + 7, 4, DIM, 4);

/** Everything one node answers about its vectors, read stale once it has applied `index`. */
async function stateOf(c: TestCluster, name: string, index: number): Promise<unknown> {
  await c.waitForHealth(name, (h) => Number(h.appliedIndex) >= index, 30_000);
  const client = c.client([name], { maxAttempts: 3 });
  const read = { consistency: "stale" as const };
  const out: Record<string, unknown> = {};
  for (const collection of await client.vectors.list(read)) {
    const { index: _index, ...info } = await client.vectors.info(collection, read);
    const keys: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { points: { key: string }[]; cursor: string | null } =
        await client.vectors.scroll(collection, { ...read, limit: 97, cursor });
      keys.push(...page.points.map((point) => point.key));
      cursor = page.cursor;
    } while (cursor !== null);
    const points = await client.vectors.get(collection, keys, { ...read, withVector: true });
    const searches = [];
    for (const query of info.dim === DIM ? queries : []) {
      searches.push((await client.vectors.search(collection, query, 5, read)).hits);
      const filter = { must: [{ key: "tag.bucket", range: { lt: 3 } }] };
      searches.push((await client.vectors.search(collection, query, 5, { ...read, filter })).hits);
    }
    out[collection] = { info, points, searches };
  }
  client.close();
  return out;
}

async function expectSameEverywhere(c: TestCluster, index: number, when: string) {
  const names = c.nodes.filter((node) => node.process !== null).map((node) => node.name);
  const reference = await stateOf(c, names[0]!, index);
  for (const name of names.slice(1))
    expect(await stateOf(c, name, index), `${when}: ${name} vs ${names[0]}`).toEqual(reference);
  return reference as Record<string, { info: { count: number }; points: { key: string }[] }>;
}

function batch(from: number, count: number, seed: number) {
  const random = prng(seed);
  return clustered(seed, count, DIM, 4).map((vector, k) => ({
    key: `p${from + k}`,
    vector,
    meta: { tag: { bucket: Math.floor(random() * 10) }, n: from + k },
  }));
}

async function rejection(promise: Promise<unknown>): Promise<StageraftError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof StageraftError) return error;
    throw error;
  }
  throw new Error("expected the request to fail");
}

async function fill(client: StageraftClient): Promise<number> {
  let last = 0;
  for (const [name, metric, engine] of [
    ["hn", "l2", "hnsw"],
    ["fl", "cosine", "flat"],
  ] as const) {
    await client.vcreate(name, { dim: DIM, metric, engine });
    for (let b = 0; b < 6; b++) {
      const answer = await client.vectors.put(name, batch(b * 50, 50, SEED + b));
      expect(answer.count).toBe(50);
      last = answer.index;
    }
  }
  return last;
}

describe("vector ops - three real processes", () => {
  it("replicas answer identically after batches, meta updates, deletes, drops and restarts", async () => {
    const c = await TestCluster.start(3, config);
    cluster = c;
    const client = c.client();
    let last = await fill(client);
    // A batch with one bad point changes nothing, on any replica.
    const bad = batch(1000, 5, SEED + 50);
    const refused = await rejection(
      client.vectors.put("fl", [...bad.slice(0, 3), { key: "zero", vector: Array(DIM).fill(0) }]),
    );
    expect(refused.code).toBe("BAD_REQUEST");
    expect(refused.message).toContain("points[3]");
    expect(await client.vectors.count("fl")).toBe(300);
    for (const name of ["hn", "fl"]) {
      last = (await client.vectors.setMeta(name, "p1", { tag: { bucket: 1 }, x: "y" })).index;
      last = (await client.vectors.setMeta(name, "p2", { extra: [1, 2] }, true)).index;
      const filter = { must: [{ key: "tag.bucket", match: 9 }] };
      const matching = await client.vectors.count(name, { filter });
      const deleted = await client.vectors.delete(name, { filter });
      expect(deleted.deleted).toBe(matching);
      last = (await client.vectors.delete(name, { keys: ["p3", "p4", "nope"] })).index;
    }
    await client.vcreate("gone", { dim: 3, metric: "ip" });
    await client.vectors.put("gone", [{ key: "a", vector: [1, 2, 3] }]);
    last = (await client.vectors.drop("gone")).index;
    await client.snapshot();
    last = (await client.vectors.put("hn", batch(300, 50, SEED + 60))).index;
    const before = await expectSameEverywhere(c, last, "before the restart");
    expect(Object.keys(before)).toEqual(["fl", "hn"]);
    expect(before.hn!.points.find((p) => p.key === "p2")).toMatchObject({
      meta: { extra: [1, 2], n: 2 },
    });
    // Every node restarts (kill -9): state comes back from snapshots and the log.
    for (const node of c.nodes) await c.kill(node.name);
    for (const node of c.nodes) c.restart(node.name);
    await c.waitForLeader(30_000);
    const after = await expectSameEverywhere(c, last, "after restarting every node");
    expect(after).toEqual(before);
  });

  it("a collection dropped and recreated while a follower is down ends identical on all nodes", async () => {
    const c = await TestCluster.start(3, config);
    cluster = c;
    const client = c.client();
    await fill(client);
    const leader = await c.waitForLeader();
    const follower = c.nodes.find((node) => node.name !== leader)!.name;
    await c.kill(follower);
    await client.vectors.drop("hn");
    await client.vcreate("hn", { dim: DIM, metric: "ip", engine: "hnsw", params: { m: 8 } });
    let last = (await client.vectors.put("hn", batch(5000, 20, SEED + 70))).index;
    // Enough entries after the drop that the follower may need a snapshot to catch up.
    for (let k = 0; k < 45; k++) last = (await client.put(`k${k}`, "v")).index;
    c.restart(follower);
    const state = await expectSameEverywhere(c, last, "after the follower caught up");
    expect(state.hn!.info).toMatchObject({ count: 20, metric: "ip" });
    expect(state.hn!.points.map((point) => point.key)).toEqual(
      batch(5000, 20, SEED + 70)
        .map((point) => point.key)
        .sort(),
    );
  });

  it("the CLI: vector create, put (JSONL), get, search, count, delete, info, list, drop", async () => {
    const c = await TestCluster.start(3, config);
    cluster = c;
    const cli = fileURLToPath(new URL("../../dist/src/cli.js", import.meta.url));
    const endpoints = c.nodes.map((node) => node.client).join(",");
    const stageraft = (...args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          [cli, "vector", ...args, "--endpoints", endpoints],
          { timeout: 20_000 },
          (error, stdout, stderr) =>
            resolve({ code: error === null ? 0 : Number(error.code ?? 99), stdout, stderr }),
        );
      });
    expect((await stageraft("create", "docs", "--dim", "2", "--metric", "l2")).code).toBe(0);
    const file = join(c.root, "points.jsonl");
    await writeFile(
      file,
      ['{"key":"a","vector":[0,0],"meta":{"t":"x"}}', '{"key":"b","vector":[1,1]}', ""].join("\n"),
    );
    const put = await stageraft("put", "docs", file, "-w", "json");
    expect(JSON.parse(put.stdout)).toMatchObject({ count: 2 });
    const got = await stageraft("get", "docs", "a", "b", "--with-vector", "-w", "json");
    expect(JSON.parse(got.stdout).points).toEqual([
      { key: "a", vector: [0, 0], meta: { t: "x" } },
      { key: "b", vector: [1, 1], meta: null },
    ]);
    const search = await stageraft("search", "docs", "--vector", "[1,1]", "-k", "1");
    expect(search.stdout).toMatch(/\| b\s+\| 0\s+\|/);
    const filter = '{"must":[{"key":"t","match":"x"}]}';
    expect((await stageraft("count", "docs", "--filter", filter, "-w", "json")).stdout).toBe(
      '{"count":1}\n',
    );
    const info = JSON.parse((await stageraft("info", "docs", "-w", "json")).stdout);
    expect(info).toMatchObject({ dim: 2, metric: "l2", count: 2 });
    const badFilter = await stageraft("count", "docs", "--filter", '{"must":[{"key":"t"}]}');
    expect(badFilter.code).toBe(1);
    expect(badFilter.stderr).toContain("BAD_REQUEST");
    const deleted = await stageraft("delete", "docs", "--filter", filter, "-w", "json");
    expect(JSON.parse(deleted.stdout)).toMatchObject({ deleted: 1 });
    expect((await stageraft("delete", "docs")).code).toBe(2);
    expect((await stageraft("list")).stdout).toContain("| docs ");
    expect(JSON.parse((await stageraft("drop", "docs", "-w", "json")).stdout)).toMatchObject({
      dropped: true,
    });
    expect((await stageraft("list", "-w", "json")).stdout).toBe('{"collections":[]}\n');
  });
});
