import { afterEach, describe, expect, it } from "vitest";
import { EtcdCluster } from "./etcd-harness.js";

/**
 * etcd3's software transactional memory (client.stm()) against stageraft's etcd door: it
 * reads through the txn's read set (Range at a revision for the snapshot isolations), then
 * commits one Txn whose compares are the mod revisions it read; a conflict retries. Concurrent
 * transfers between accounts must conserve the total under Serializable and RepeatableReads,
 * and concurrent increments of one counter must all count under SerializableSnapshot. (The
 * etcd3 client's SerializableSnapshot also requires every written key's mod revision to be at
 * most the earliest one it read, so a transfer between two keys written at different
 * revisions conflicts for ever — against etcd 3.4 exactly as here: checked by hand.)
 */

let cluster: EtcdCluster | null = null;

afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

const accounts = ["acct/a", "acct/b", "acct/c"];
const isolations = [
  { name: "Serializable", level: 1 },
  { name: "RepeatableReads", level: 2 },
];

describe("etcd v3 API - the etcd3 npm client's STM", () => {
  it("stm: concurrent transfers conserve the total (Serializable, RepeatableReads); concurrent increments all count (SerializableSnapshot)", async () => {
    cluster = await EtcdCluster.start();
    const clients = ["n1", "n2", "n3"].map((name) => cluster!.connect(name));
    const admin = clients[0]!;
    for (const { name, level } of isolations) {
      for (const account of accounts) await admin.put(`${name}/${account}`).value("100");
      let attempts = 0;
      const transfer = (worker: number, k: number) =>
        clients[worker % clients.length]!.stm({ retries: 100, isolation: level as never }).transact(
          async (tx) => {
            attempts++;
            const from = `${name}/${accounts[(worker + k) % 3]}`;
            const to = `${name}/${accounts[(worker + k + 1) % 3]}`;
            const [have, gets] = await Promise.all([tx.get(from).number(), tx.get(to).number()]);
            // The builders are thenables: awaiting them records the writes in the write set.
            await Promise.all([tx.put(from).value(have! - 1), tx.put(to).value(gets! + 1)]);
          },
        );
      await Promise.all(
        Array.from({ length: 4 }, (_, worker) =>
          (async () => {
            for (let k = 0; k < 10; k++) await transfer(worker, k);
          })(),
        ),
      );
      const balances = await Promise.all(
        accounts.map(async (account) => Number(await admin.get(`${name}/${account}`).string())),
      );
      expect(
        balances.reduce((a, b) => a + b, 0),
        name,
      ).toBe(300);
      // Each worker moved one unit around the ring 10 times: a -1/+1 per transfer.
      const moved = new Map(accounts.map((a) => [a, 0]));
      for (let worker = 0; worker < 4; worker++)
        for (let k = 0; k < 10; k++) {
          const from = accounts[(worker + k) % 3]!;
          const to = accounts[(worker + k + 1) % 3]!;
          moved.set(from, moved.get(from)! - 1);
          moved.set(to, moved.get(to)! + 1);
        }
      expect(balances, name).toEqual(accounts.map((a) => 100 + moved.get(a)!));
      // 40 transfers; concurrent ones conflicted and were tried again.
      expect(attempts, `${name}: retries happened`).toBeGreaterThan(40);
    }
    await admin.put("counter").value("0");
    let attempts = 0;
    await Promise.all(
      clients.map(async (client) => {
        for (let k = 0; k < 10; k++)
          await client.stm({ retries: 100 }).transact(async (tx) => {
            attempts++;
            const now = await tx.get("counter").number();
            await tx.put("counter").value(now! + 1);
          });
      }),
    );
    expect(await admin.get("counter").number()).toBe(30);
    expect(attempts, "SerializableSnapshot: retries happened").toBeGreaterThan(30);
  }, 120_000);
});
