import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import type { Etcd3 } from "etcd3";
import { afterEach, describe, expect, it } from "vitest";
import { EtcdCluster } from "./etcd-harness.js";

/**
 * The etcd3 npm client (nobody here wrote it) against a real 3-node cluster serving etcd's
 * v3 gRPC API (--listen-etcd, CONTRACT §7, docs/etcd-compat.md).
 */

let cluster: EtcdCluster | null = null;
const rawClients: grpc.Client[] = [];

afterEach(async () => {
  for (const client of rawClients.splice(0)) client.close();
  await cluster?.stop();
  cluster = null;
});

async function startCluster(config: Record<string, unknown> = {}): Promise<Map<string, string>> {
  cluster = await EtcdCluster.start(config);
  return cluster.etcd;
}

function connect(address: string): Etcd3 {
  const name = [...cluster!.etcd].find(([, a]) => a === address)![0];
  return cluster!.connect(name);
}

describe("etcd v3 API - the etcd3 npm client against a 3-node cluster", () => {
  it("KV: put, get, prefix, revisions, prev kv, delete range, txn, compact", async () => {
    const etcd = await startCluster();
    // n2 may be a follower: writes and linearizable reads are forwarded as native ones are.
    const client = connect(etcd.get("n2")!);
    await client.put("app/a").value("1");
    const put = await client.put("app/b").value("2").exec();
    const rev = Number(put.header.revision);
    expect(rev).toBeGreaterThan(0);
    expect(put.header.member_id).not.toBe("0");
    expect(put.header.raft_term).not.toBe("0");
    await client.put("app/c").value("3");
    await client.put("other").value("x");
    expect(await client.get("app/a").string()).toBe("1");
    expect(await client.get("missing").string()).toBeNull();
    expect(await client.getAll().prefix("app/").strings()).toEqual({
      "app/a": "1",
      "app/b": "2",
      "app/c": "3",
    });
    expect(await client.getAll().prefix("app/").count()).toBe(3);
    expect(await client.getAll().prefix("app/").keys()).toEqual(["app/a", "app/b", "app/c"]);
    const limited = await client.getAll().prefix("app/").limit(2).exec();
    expect(limited.kvs.map((kv) => kv.key.toString())).toEqual(["app/a", "app/b"]);
    expect(limited.more).toBe(true);
    expect(limited.count).toBe("3");
    const descending = await client.getAll().prefix("app/").sort("Key", "Descend").keys();
    expect(descending).toEqual(["app/c", "app/b", "app/a"]);
    expect(await client.getAll().all().keys()).toEqual(["app/a", "app/b", "app/c", "other"]);
    const stale = await client.get("app/a").serializable(true).string();
    expect(stale === null || stale === "1").toBe(true);

    // Metadata and the past.
    const second = await client.put("app/b").value("22").exec();
    const meta = (await client.get("app/b").exec()).kvs[0]!;
    expect(meta.version).toBe("2");
    expect(meta.create_revision).toBe(String(rev));
    expect(meta.mod_revision).toBe(second.header.revision);
    expect(await client.get("app/b").revision(rev).string()).toBe("2");
    const previous = await client.put("app/b").value("23").getPrevious();
    expect(previous.value.toString()).toBe("22");

    // Txn: compare on value / version / mod revision; both branches.
    const txn = await client
      .if("app/a", "Value", "==", "1")
      .and("app/b", "Version", "==", 3)
      .then(client.put("app/t").value("yes"), client.get("app/a"))
      .else(client.put("app/t").value("no"))
      .commit();
    expect(txn.succeeded).toBe(true);
    expect(txn.responses[1]!.response_range!.kvs[0]!.value.toString()).toBe("1");
    const failed = await client
      .if("app/a", "Mod", "<", 1)
      .then(client.put("app/t").value("wrong"))
      .else(client.delete().key("app/t"))
      .commit();
    expect(failed.succeeded).toBe(false);
    expect(failed.responses[0]!.response_delete_range!.deleted).toBe("1");

    // Delete a prefix with prev kvs.
    const deleted = await client.delete().prefix("app/").getPrevious();
    expect(deleted.map((kv) => kv.key.toString()).sort()).toEqual(["app/a", "app/b", "app/c"]);
    expect(await client.getAll().prefix("app/").count()).toBe(0);

    // Compact, then a read below it is refused as etcd refuses it.
    const now = Number((await client.put("k").value("v").exec()).header.revision);
    await client.kv.compact({ revision: now });
    const compacted = await client
      .get("other")
      .revision(rev)
      .string()
      .catch((e: Error) => e);
    expect((compacted as Error).message).toBe(
      "11 OUT_OF_RANGE: etcdserver: mvcc: required revision has been compacted",
    );
  });

  it("bad input: non-UTF-8 keys, empty keys, unknown leases, ignore_lease on an absent key are refused clearly", async () => {
    const etcd = await startCluster();
    const client = connect(etcd.get("n1")!);
    await expect(
      client
        .put(Buffer.from([0xff, 0xfe]))
        .value("x")
        .exec(),
    ).rejects.toThrow(/key is not valid UTF-8/);
    await expect(
      client
        .put("k")
        .value(Buffer.from([0xc3]))
        .exec(),
    ).rejects.toThrow(/value is not valid UTF-8/);
    await expect(client.kv.put({ key: Buffer.alloc(0), value: Buffer.from("v") })).rejects.toThrow(
      /key is not provided/,
    );
    await expect(client.put("k").value("v").lease("12345").exec()).rejects.toThrow(
      /requested lease not found/,
    );
    await expect(client.put("absent").ignoreLease().exec()).rejects.toThrow(/key not found/);
    await client.put("k").value("v");
    expect(await client.get("k").string()).toBe("v");
  });

  it("Cluster and Maintenance: member list, status, alarms, move leader, auth not supported", async () => {
    const etcd = await startCluster();
    const client = connect(etcd.get("n1")!);
    const list = await client.cluster.memberList({});
    expect(list.members.map((m) => m.name).sort()).toEqual(["n1", "n2", "n3"]);
    expect(new Set(list.members.map((m) => m.ID)).size).toBe(3);
    const self = list.members.find((m) => m.name === "n1")!;
    expect(self.clientURLs).toEqual([`http://${etcd.get("n1")}`]);
    expect(list.members.every((m) => m.isLearner === false)).toBe(true);
    const status = await client.maintenance.status({});
    expect(status.version).toBe("3.4.0");
    expect(Number(status.raftIndex)).toBeGreaterThan(0);
    expect(Number(status.raftTerm)).toBeGreaterThan(0);
    expect(Number(status.dbSize)).toBeGreaterThan(0);
    const leaderName = list.members.find((m) => m.ID === status.leader)?.name;
    expect(["n1", "n2", "n3"]).toContain(leaderName);
    expect((await client.maintenance.alarm({ action: "Get" } as never)).alarms).toEqual([]);

    // MoveLeader to another member, then every node agrees on it.
    const target = list.members.find((m) => m.name !== leaderName)!;
    await client.maintenance.moveLeader({ targetID: target.ID });
    const after = await connect(etcd.get(target.name)!).maintenance.status({});
    expect(after.leader).toBe(target.ID);

    await expect(client.cluster.memberRemove({ ID: "42" })).rejects.toThrow(/member not found/);
    await expect(client.cluster.memberAdd({ peerURLs: ["127.0.0.1:1"] })).rejects.toThrow(
      "etcdserver: given member URLs are invalid",
    );
    await expect(client.cluster.memberAdd({ peerURLs: [self.peerURLs[0]!] })).rejects.toThrow(
      "etcdserver: Peer URLs already exists",
    );
    await expect(client.auth.authenticate({ name: "root", password: "x" })).rejects.toThrow(
      /not supported by stageraft/,
    );
  });

  it("Cluster: a learner is listed as one; promote before it caught up and remove, as etcd", async () => {
    const etcd = await startCluster();
    const client = connect(etcd.get("n2")!);
    // Added natively (etcd's MemberAdd lacks a name); never started, so never caught up.
    await cluster!.cluster.client().memberAdd({
      name: "n4",
      peer: "127.0.0.1:1",
      client: "127.0.0.1:2",
      voter: false,
    });
    const list = await client.cluster.memberList({});
    const learner = list.members.find((m) => m.name === "n4")!;
    expect(learner.isLearner).toBe(true);
    expect(learner.peerURLs).toEqual(["http://127.0.0.1:1"]);
    await expect(client.cluster.memberPromote({ ID: learner.ID })).rejects.toThrow(
      "etcdserver: can only promote a learner member which is in sync with leader",
    );
    const removed = await client.cluster.memberRemove({ ID: learner.ID });
    expect(removed.members.map((m) => m.name).sort()).toEqual(["n1", "n2", "n3"]);
  });

  it("Cluster: MemberAdd of a started node, named in its peer URL, joins and is promoted", async () => {
    const etcd = await startCluster();
    const client = connect(etcd.get("n1")!);
    const n4 = await cluster!.join("n4");
    const added = await client.cluster.memberAdd({ peerURLs: [`http://n4@${n4.peer}`] });
    expect(added.member.name).toBe("n4");
    expect(added.member.peerURLs).toEqual([`http://${n4.peer}`]);
    expect(added.members.map((m) => m.name).sort()).toEqual(["n1", "n2", "n3", "n4"]);
    // A voter: stageraft adds it as a learner and promotes it once it caught up; its client
    // address comes with its hello.
    await expect
      .poll(
        async () => {
          const listed = (await client.cluster.memberList({})).members.find((m) => m.name === "n4");
          return { learner: listed?.isLearner, clientURLs: listed?.clientURLs };
        },
        { timeout: 20_000, interval: 200 },
      )
      .toEqual({ learner: false, clientURLs: [`ws://${n4.client}/v1`] });
    // A learner without a name in its URL is named after its peer address.
    const learner = await client.cluster.memberAdd({
      peerURLs: ["http://127.0.0.1:9"],
      isLearner: true,
    });
    expect(learner.member.name).toBe("127.0.0.1-9");
    expect(learner.member.isLearner).toBe(true);
    expect(learner.member.clientURLs).toEqual([]);
  });

  it("auth: the configured tokens as gRPC metadata; none or a wrong one is refused", async () => {
    const etcd = await startCluster({ auth: { clientToken: "c-token", adminToken: "a-token" } });
    const address = etcd.get("n1")!;
    // etcd3 sends a token only after Authenticate: a plain gRPC client sends the metadata.
    const kv = rawKv(address);
    const put = (metadata: Record<string, string>) =>
      unary(kv, "Put", { key: Buffer.from("k"), value: Buffer.from("v") }, metadata);
    await expect(put({})).rejects.toThrow(/UNAUTHENTICATED: etcdserver: invalid auth token/);
    // Counted with the WebSocket door's refusals (the same metrics).
    const metrics = await (
      await fetch(`http://${cluster!.cluster.node("n1").client}/metrics`)
    ).text();
    expect(metrics).toMatch(/^stageraft_client_unauthorized_total\S* [1-9]/m);
    await expect(put({ token: "wrong" })).rejects.toThrow(/invalid auth token/);
    expect(await put({ token: "c-token" })).toHaveProperty("header");
    expect(await put({ authorization: "Bearer a-token" })).toHaveProperty("header");
    // Compact is an admin op: the client token is not enough (etcd's "permission denied").
    await expect(unary(kv, "Compact", { revision: 1 }, { token: "c-token" })).rejects.toThrow(
      /permission denied/,
    );
  });
});

function rawKv(address: string): grpc.Client {
  const definition = protoLoader.loadSync("rpc.proto", {
    keepCase: true,
    longs: String,
    defaults: true,
    includeDirs: [fileURLToPath(new URL("../../stages/ingress/etcd/proto/", import.meta.url))],
  });
  const pkg = grpc.loadPackageDefinition(definition).etcdserverpb as grpc.GrpcObject;
  const KV = pkg.KV as grpc.ServiceClientConstructor;
  const client = new KV(address, grpc.credentials.createInsecure());
  rawClients.push(client);
  return client;
}

function unary(
  client: grpc.Client,
  method: string,
  request: Record<string, unknown>,
  metadata: Record<string, string>,
): Promise<Record<string, unknown>> {
  const md = new grpc.Metadata();
  for (const [name, value] of Object.entries(metadata)) md.set(name, value);
  type Unary = (
    request: unknown,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: (error: Error | null, reply: Record<string, unknown>) => void,
  ) => void;
  const fn = (client as unknown as Record<string, Unary>)[method]!.bind(client);
  return new Promise((resolve, reject) => {
    fn(
      request,
      md,
      { deadline: Date.now() + 10_000 },
      (error: Error | null, reply: Record<string, unknown>) =>
        error ? reject(error) : resolve(reply),
    );
  });
}
