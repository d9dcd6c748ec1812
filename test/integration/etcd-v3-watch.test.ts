import { EtcdLockFailedError, type IKeyValue } from "etcd3";
import { afterEach, describe, expect, it } from "vitest";
import { EtcdCluster } from "./etcd-harness.js";
import { sleep } from "./harness.js";

/** etcd3's watch builder, leases, locks and elections against stageraft's etcd door. */

let cluster: EtcdCluster | null = null;

afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe("etcd v3 API - watch and leases through the etcd3 npm client", () => {
  it("watch: prefix, from a revision, prev kv, delete events, cancel, compacted start", async () => {
    cluster = await EtcdCluster.start();
    const client = cluster.connect("n2");
    const first = await client.put("w/a").value("1").exec();
    const from = first.header.revision;
    await client.put("w/b").value("2");
    await client.put("elsewhere").value("x");

    // From a past revision: the history replays, then live changes follow.
    const seen: string[] = [];
    const watcher = await client.watch().prefix("w/").startRevision(from).withPreviousKV().create();
    watcher.on("put", (kv: IKeyValue, prev?: IKeyValue) =>
      seen.push(`put ${kv.key} ${kv.value}${prev ? ` prev=${prev.value}` : ""}`),
    );
    watcher.on("delete", (kv: IKeyValue) => seen.push(`delete ${kv.key}`));
    await until("the replayed history", () => seen.length >= 2);
    await client.put("w/a").value("3");
    await client.delete().key("w/b");
    await until("the live events", () => seen.length >= 4);
    expect(seen).toEqual(["put w/a 1", "put w/b 2", "put w/a 3 prev=1", "delete w/b"]);
    await watcher.cancel();
    await client.put("w/a").value("after-cancel");
    await sleep(200);
    expect(seen).toHaveLength(4);

    // A watch starting below the compacted revision is refused as etcd refuses it.
    const now = (await client.put("w/c").value("c").exec()).header.revision;
    await client.kv.compact({ revision: now });
    // The compact answered once the leader applied it; a linearizable read through the same
    // node makes sure this node applied it too before the watch is created there.
    await client.get("w/c");
    // As etcd 3.4: created, then cancelled with the compact revision (etcd3 emits an error).
    const old = client.watch().key("w/a").startRevision(from).watcher();
    const errors: Error[] = [];
    old.on("error", (error: Error) => errors.push(error));
    await until("the compacted cancel", () => errors.length > 0);
    expect(errors[0]!.message).toMatch(
      /canceled: etcdserver: mvcc: required revision has been compacted/,
    );
  });

  it("watch: a stream on a follower lives through the leader's kill and resumes delivery", async () => {
    cluster = await EtcdCluster.start();
    const leader = await cluster.cluster.waitForLeader();
    const [follower, other] = ["n1", "n2", "n3"].filter((n) => n !== leader) as [string, string];
    const watching = cluster.connect(follower);
    const writer = cluster.connect(other);
    const seen: string[] = [];
    const watcher = await watching.watch().prefix("k/").create();
    watcher.on("put", (kv: IKeyValue) => seen.push(`${kv.key}=${kv.value}`));
    await writer.put("k/1").value("before");
    await until("the event before the kill", () => seen.length === 1);
    await cluster.cluster.kill(leader);
    await cluster.cluster.waitForLeader(15_000, [follower, other]);
    // The survivors agree on a new leader first: the write then goes through at once.
    await writer.put("k/2").value("after");
    await until("the event after the kill", () => seen.length === 2);
    expect(seen).toEqual(["k/1=before", "k/2=after"]);
    await watcher.cancel();
  });

  it("a node with open etcd watch and keep-alive streams stops cleanly (exit 0)", async () => {
    cluster = await EtcdCluster.start();
    const client = cluster.connect("n3");
    const watcher = await client.watch().prefix("s/").create();
    const lease = client.lease(30);
    await lease.grant();
    await until("the keep-alive stream", () => lease.revoked() === false);
    await cluster.cluster.kill("n3", "SIGTERM");
    expect(cluster.cluster.node("n3").exitCode).toBe(0);
    watcher.removeAllListeners();
    lease.release();
  });

  it("leases: grant, attach, keep alive, time to live with keys, list, revoke deletes the keys", async () => {
    cluster = await EtcdCluster.start();
    const client = cluster.connect("n1");
    const lease = client.lease(5, { autoKeepAlive: false });
    const id = await lease.grant();
    await lease.put("l/a").value("1");
    await lease.put("l/b").value("2");
    const kv = (await client.get("l/a").exec()).kvs[0]!;
    expect(kv.lease).toBe(id);
    const alive = await lease.keepaliveOnce();
    expect(alive.ID).toBe(id);
    expect(Number(alive.TTL)).toBe(5);
    const ttl = await client.leaseClient.leaseTimeToLive({ ID: id, keys: true });
    expect(Number(ttl.grantedTTL)).toBe(5);
    expect(ttl.keys.map((k) => k.toString()).sort()).toEqual(["l/a", "l/b"]);
    const list = await client.leaseClient.leaseLeases({});
    expect(list.leases.map((l) => l.ID)).toContain(id);
    // ignore_lease keeps the key's lease; ignore_value (touch) keeps its value and, as in
    // etcd, sets the lease the request names (none: detached).
    await client.put("l/a").value("1b").ignoreLease();
    const kept = (await client.get("l/a").exec()).kvs[0]!;
    expect([kept.value.toString(), kept.lease, kept.version]).toEqual(["1b", id, "2"]);
    await client.put("l/b").touch();
    const touched = (await client.get("l/b").exec()).kvs[0]!;
    expect([touched.value.toString(), touched.lease, touched.version]).toEqual(["2", "0", "2"]);
    await lease.revoke();
    // Its keys are deleted with it; l/b, detached by the touch, stays.
    expect(await client.getAll().prefix("l/").keys()).toEqual(["l/b"]);
    const gone = await client.leaseClient.leaseTimeToLive({ ID: id, keys: false });
    expect(gone.TTL).toBe("-1");
    await expect(client.put("l/x").value("1").lease(id).exec()).rejects.toThrow(
      /requested lease not found/,
    );
  });

  it("locks and elections (etcd3's recipes on txn, leases and watch)", async () => {
    cluster = await EtcdCluster.start();
    const a = cluster.connect("n1");
    const b = cluster.connect("n3");
    const order: string[] = [];
    const lockA = await a.lock("res").ttl(5).acquire();
    order.push("a acquired");
    const waiting = b
      .lock("res")
      .ttl(5)
      .acquire()
      .then(
        (lock) => ({ lock }),
        (error: Error) => ({ error }),
      );
    // etcd3's Lock fails fast when the key is held (EtcdLockFailedError), as with etcd.
    const second = await waiting;
    expect("error" in second && second.error).toBeInstanceOf(EtcdLockFailedError);
    await lockA.release();
    const lockB = await b.lock("res").ttl(5).acquire();
    order.push("b acquired");
    await lockB.release();
    expect(order).toEqual(["a acquired", "b acquired"]);

    const electionA = a.election("leader-of-x", 5);
    const campaignA = electionA.campaign("a");
    await campaignA.wait();
    expect(await electionA.leader()).toBe("a");
    const campaignB = b.election("leader-of-x", 5).campaign("b");
    let bElected = false;
    campaignB.on("elected", () => {
      bElected = true;
    });
    await sleep(300);
    expect(bElected).toBe(false);
    await campaignA.resign();
    await until("b to be elected", () => bElected);
    expect(await b.election("leader-of-x").leader()).toBe("b");
    await campaignB.resign();
  });

  it("watch: a range delete larger than a native frame reaches etcd3 as one response", async () => {
    cluster = await EtcdCluster.start();
    const native = cluster.cluster.client(["n1", "n2", "n3"]);
    // Many keys with small values: one delete revision of ~2.4 MB, sent by the node in fragments.
    const keys = Array.from({ length: 2_000 }, (_, k) => `big/${String(k).padStart(4, "0")}`);
    for (let k = 0; k < keys.length; k += 500)
      await Promise.all(keys.slice(k, k + 500).map((key) => native.put(key, "v".repeat(1_000))));
    const client = cluster.connect("n2");
    // From after the puts (a linearizable read's revision): n2, a follower, may not have
    // applied them all yet, and a watch from "now" there would see the last ones too.
    const after = Number((await client.get("big/0000").exec()).header.revision) + 1;
    const watcher = await client
      .watch()
      .prefix("big/")
      .withPreviousKV()
      .startRevision(String(after))
      .create();
    const responses: { revision: string; keys: string[] }[] = [];
    watcher.on("data", (res) =>
      responses.push({
        revision: res.header.revision,
        keys: res.events.map((e) => e.kv.key.toString()),
      }),
    );
    const deleted = await client.delete().prefix("big/").exec();
    await until("the delete events", () => responses.length > 0, 15_000);
    await sleep(200);
    expect(responses).toHaveLength(1);
    expect(responses[0]!.keys).toEqual(keys);
    expect(Number(responses[0]!.revision)).toBeGreaterThanOrEqual(Number(deleted.header.revision));
  });
});
