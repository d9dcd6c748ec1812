import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { type Entry, EntryType } from "../../raft/types.js";
import { encodeCommand, type LogCommand } from "../../stages/apply/commands.js";
import { ownAnswer } from "../../stages/apply/lease-apply.js";
import {
  openStateMachine,
  type StateMachine,
  type StateMachineOptions,
} from "../../stages/apply/state-machine.js";
import type { ReplyBody } from "../../stages/items.js";
import type { KvEngineName } from "../../storage/engines/registry.js";
import { SnapshotStore } from "../../storage/snapshot-store.js";
import { TempDirs } from "../storage/helpers.js";

/** The lease table inside the replicated state machine, on both KV engines. */

const dirs = new TempDirs();
const machines: StateMachine[] = [];

afterEach(async () => {
  for (const machine of machines.splice(0)) await machine.close();
  await dirs.removeAll();
});

function options(dataDir: string, kvEngine: KvEngineName): StateMachineOptions {
  return {
    kvEngine,
    dataDir,
    vectors: { defaultEngine: "flat", hnsw: { m: 16, efConstruction: 200, efSearch: 50 } },
    sessions: { ttlMs: 3_600_000, window: 256, maxSessions: 1_000, expireEvery: 1_024 },
  };
}

async function open(dataDir: string, engine: KvEngineName): Promise<StateMachine> {
  const snapshots = new SnapshotStore(join(dataDir, "snap"));
  await snapshots.open();
  const { machine } = await openStateMachine(
    options(dataDir, engine),
    snapshots,
    null,
    false,
    Number.MAX_SAFE_INTEGER,
  );
  await machine.load();
  machines.push(machine);
  return machine;
}

/** A little log: entries get consecutive indexes from 1, term 1 unless given. */
class Log {
  index = 0;
  entry(command: Omit<LogCommand, "ts">, ts: number, term = 1): Entry {
    this.index++;
    return {
      term,
      index: this.index,
      type: EntryType.normal,
      data: encodeCommand({ ...command, ts }),
      chk: 0,
    };
  }
}

async function applyOne(machine: StateMachine, entry: Entry): Promise<unknown> {
  return (await machine.apply([entry])).answers.get(entry.index);
}

const engines: KvEngineName[] = ["level", "memory"];

describe.each(engines)("lease state machine (%s)", (engine) => {
  test("leases - grant gives the entry index as id; put attaches; revoke deletes the keys at its index", async () => {
    const machine = await open(await dirs.make("sm"), engine);
    const log = new Log();
    const grant = log.entry({ lease: { op: "grant", ttl: 5 } }, 1_000);
    expect(await applyOne(machine, grant)).toEqual({ ok: true, result: { lease: "1", ttl: 5 } });
    const puts = [
      log.entry({ kv: { op: "put", key: "a", value: "1", lease: "1" } }, 1_001),
      log.entry({ kv: { op: "put", key: "b", value: "2", lease: "1" } }, 1_002),
      log.entry({ kv: { op: "put", key: "c", value: "3" } }, 1_003),
      // Put again without a lease: detached (etcd's rule), so the revoke keeps it.
      log.entry({ kv: { op: "put", key: "b", value: "2'" } }, 1_004),
    ];
    await machine.apply(puts);
    expect(
      await machine.read(
        { op: "lease-ttl", lease: "1", keys: true, consistency: "linearizable" },
        5,
      ),
    ).toMatchObject({
      ok: true,
      result: { grantedTtl: 5, keys: ["a"] },
    });
    const revoke = log.entry({ lease: { op: "revoke", id: "1" } }, 2_000);
    expect(await applyOne(machine, revoke)).toEqual({
      ok: true,
      result: { revoked: true, revision: 6 },
    });
    expect(await machine.kv.get("a")).toBeNull();
    expect(await machine.kv.get("b")).toBe("2'");
    expect(await machine.kv.get("c")).toBe("3");
    expect(machine.leases.size).toBe(0);
    // Gone: keep-alive, revoke and put answer NOT_FOUND and change nothing; lease-ttl says -1.
    for (const command of [
      { lease: { op: "keepalive", id: "1" } },
      { lease: { op: "revoke", id: "1" } },
      { kv: { op: "put", key: "d", value: "4", lease: "1" } },
    ] as const) {
      const answer = await applyOne(machine, log.entry(command, 2_001));
      expect(answer).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    }
    expect(await machine.kv.get("d")).toBeNull();
    expect(
      await machine.read({ op: "lease-ttl", lease: "1", keys: false, consistency: "stale" }, 9),
    ).toEqual({ ok: true, result: { ttl: -1, grantedTtl: 0 } });
  });

  test("leases - a grant, a put and a revoke in one run: the revoke sees the put's key", async () => {
    const machine = await open(await dirs.make("sm"), engine);
    const log = new Log();
    const { answers } = await machine.apply([
      log.entry({ lease: { op: "grant", ttl: 1 } }, 0),
      log.entry({ kv: { op: "put", key: "k", value: "v", lease: "1" } }, 1),
      log.entry({ kv: { op: "delete", key: "gone" } }, 1),
      log.entry({ lease: { op: "revoke", id: "1" } }, 2),
    ]);
    expect(answers.get(2)).toMatchObject({ ok: true, result: { index: 2 } });
    expect(answers.get(3)).toMatchObject({ ok: true, result: { deleted: false, index: 3 } });
    expect(answers.get(4)).toEqual({ ok: true, result: { revoked: true, revision: 4 } });
    expect(await machine.kv.get("k")).toBeNull();
  });

  test("leases - expire re-checks each lease at the entry: a keep-alive applied since keeps its lease", async () => {
    const machine = await open(await dirs.make("sm"), engine);
    const log = new Log();
    await machine.apply([
      log.entry({ lease: { op: "grant", ttl: 2 } }, 10_000), // id 1
      log.entry({ lease: { op: "grant", ttl: 2 } }, 10_000), // id 2
      log.entry({ kv: { op: "put", key: "one", value: "x", lease: "1" } }, 10_000),
      log.entry({ kv: { op: "put", key: "two", value: "y", lease: "2" } }, 10_000),
    ]);
    expect(await machine.leasesDue({ now: 11_999, term: 1, extendMs: 500 })).toEqual([]);
    expect(await machine.leasesDue({ now: 12_000, term: 1, extendMs: 500 })).toEqual(["1", "2"]);
    // A newer leader (term 2) extends leases renewed in term 1 by its election timeout.
    expect(await machine.leasesDue({ now: 12_400, term: 2, extendMs: 500 })).toEqual([]);
    expect(await machine.leasesDue({ now: 12_500, term: 2, extendMs: 500 })).toEqual(["1", "2"]);
    // Lease 2 is kept alive after the leader decided; the expiry entry spares it.
    await machine.apply([log.entry({ lease: { op: "keepalive", id: "2" } }, 12_001)]);
    const expire = log.entry({ lease: { op: "expire", ids: ["1", "2"], extendMs: 500 } }, 12_000);
    expect(await applyOne(machine, expire)).toEqual({
      ok: true,
      result: { expired: ["1"], revision: 6 },
    });
    expect(await machine.kv.get("one")).toBeNull();
    expect(await machine.kv.get("two")).toBe("y");
    expect(await machine.read({ op: "lease-list", consistency: "stale" }, 6)).toEqual({
      ok: true,
      result: { leases: ["2"] },
    });
  });

  test("leases - a keepalives entry renews each lease at its ts; each client takes its own answer, a revoked lease's alone NOT_FOUND", async () => {
    const machine = await open(await dirs.make("sm"), engine);
    const log = new Log();
    await machine.apply([
      log.entry({ lease: { op: "grant", ttl: 2 } }, 10_000), // id 1
      log.entry({ lease: { op: "grant", ttl: 7 } }, 10_000), // id 2
      log.entry({ lease: { op: "grant", ttl: 3 } }, 10_000), // id 3
      log.entry({ kv: { op: "put", key: "two", value: "y", lease: "2" } }, 10_000),
      log.entry({ lease: { op: "revoke", id: "3" } }, 10_500),
    ]);
    // Lease 3 was revoked before the batch; 99 was never granted.
    const batch = log.entry({ lease: { op: "keepalives", ids: ["2", "3", "1", "99"] } }, 11_500);
    const answer = (await applyOne(machine, batch)) as ReplyBody;
    expect(answer).toEqual({ ok: true, result: { keepalives: { "1": 2, "2": 7 } } });
    const keepalive = (lease: string) => ({ op: "lease-keepalive" as const, lease });
    expect(ownAnswer(answer, keepalive("1"))).toEqual({ ok: true, result: { ttl: 2 } });
    expect(ownAnswer(answer, keepalive("2"))).toEqual({ ok: true, result: { ttl: 7 } });
    for (const gone of ["3", "99"])
      expect(ownAnswer(answer, keepalive(gone))).toMatchObject({
        ok: false,
        error: {
          code: "NOT_FOUND",
          message: `lease ${gone} not found (never granted, expired or revoked)`,
        },
      });
    // Renewed at the entry's ts: lease 1 (ttl 2 s) is due at 13.5 s, no longer at 12 s.
    expect(await machine.leasesDue({ now: 13_499, term: 1, extendMs: 500 })).toEqual([]);
    expect(await machine.leasesDue({ now: 13_500, term: 1, extendMs: 500 })).toEqual(["1"]);
    expect(machine.leases.get("2")?.record).toEqual({ ttl: 7, renewTs: 11_500, renewTerm: 1 });
    expect(machine.leases.get("2")?.keys).toEqual(["two"]);
    // The single form still applies (logs written before batching replay).
    const single = log.entry({ lease: { op: "keepalive", id: "1" } }, 12_000);
    expect(await applyOne(machine, single)).toEqual({ ok: true, result: { ttl: 2 } });
    expect(machine.leases.get("1")?.record.renewTs).toBe(12_000);
  });

  // Nothing survives a memory engine's close: the level engine alone is asked.
  const durable = engine === "level" ? test : () => {};
  durable(
    "leases - a keepalives entry survives a restart: the renewals are in the engine's records",
    async () => {
      const dir = await dirs.make("sm");
      const machine = await open(dir, engine);
      const log = new Log();
      await machine.apply([
        log.entry({ lease: { op: "grant", ttl: 2 } }, 10_000),
        log.entry({ lease: { op: "grant", ttl: 2 } }, 10_000),
        log.entry({ lease: { op: "keepalives", ids: ["1", "2"] } }, 15_000),
      ]);
      await machine.close();
      machines.splice(machines.indexOf(machine), 1);
      const reopened = await open(dir, engine);
      expect(reopened.leases.get("1")?.record.renewTs).toBe(15_000);
      expect(reopened.leases.get("2")?.record.renewTs).toBe(15_000);
    },
  );

  test("leases - snapshots carry the lease table and its keys; a restore rebuilds the key index", async () => {
    const source = await open(await dirs.make("a"), engine);
    const log = new Log();
    await source.apply([
      log.entry({ lease: { op: "grant", ttl: 30 } }, 5_000),
      log.entry({ kv: { op: "put", key: "svc/1", value: "up", lease: "1" } }, 5_000),
      log.entry({ lease: { op: "grant", ttl: 60 } }, 5_000),
    ]);
    const work = join(await dirs.make("ckpt"), "w");
    expect(await source.beginCheckpoint(work, 3)).toBe(true);
    await source.finishCheckpoint();
    const target = await open(await dirs.make("b"), engine);
    await target.restore(work, 3);
    expect(target.leases.ids()).toEqual(["1", "3"]);
    expect(target.leases.get("1")).toEqual({
      record: { ttl: 30, renewTs: 5_000, renewTerm: 1 },
      keys: ["svc/1"],
    });
    // The rebuilt index works: revoking lease 1 there deletes svc/1.
    log.index = 3;
    await target.apply([log.entry({ lease: { op: "revoke", id: "1" } }, 6_000)]);
    expect(await target.kv.get("svc/1")).toBeNull();
    // User scans never see the reserved records.
    expect(await target.read({ op: "scan", limit: 100, consistency: "stale" }, 4)).toMatchObject({
      ok: true,
      result: { items: [], count: 0 },
    });
  });

  test("leases - txn puts attach only when their branch runs; a range delete detaches; the revoke's deletes are one change at its revision", async () => {
    const machine = await open(await dirs.make("sm"), engine);
    const log = new Log();
    await machine.apply([
      log.entry({ lease: { op: "grant", ttl: 9 } }, 0), // 1
      log.entry(
        {
          kv: {
            op: "txn",
            compare: [{ key: "x", target: "version", op: "==", value: 0 }],
            success: [
              { op: "put", key: "p/1", value: "a", lease: "1" },
              { op: "put", key: "p/2", value: "b", lease: "1" },
            ],
            failure: [{ op: "put", key: "never", value: "c", lease: "1" }],
          },
        },
        0,
      ), // 2
      log.entry({ kv: { op: "deleteRange", range: { prefix: "p/2" } } }, 0), // 3
    ]);
    expect(machine.leases.get("1")?.keys).toEqual(["p/1"]);
    // A txn naming an unknown lease in either branch is refused whole.
    const refused = await applyOne(
      machine,
      log.entry(
        {
          kv: {
            op: "txn",
            compare: [],
            success: [{ op: "put", key: "q", value: "v" }],
            failure: [{ op: "put", key: "q", value: "v", lease: "77" }],
          },
        },
        0,
      ),
    );
    expect(refused).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    expect(await machine.kv.get("q")).toBeNull();
    const revoke = log.entry({ lease: { op: "revoke", id: "1" } }, 0); // 5
    const { changes } = await machine.apply([revoke]);
    expect(changes).toEqual([
      {
        revision: 5,
        events: [
          expect.objectContaining({
            type: "delete",
            kv: expect.objectContaining({ key: "p/1", modRevision: 5 }),
          }),
        ],
      },
    ]);
  });
});

describe("lease state machine (sessions)", () => {
  test("leases - a lease-grant retried in its session gets its first answer: one lease, one id", async () => {
    const machine = await open(await dirs.make("sm"), "memory");
    const log = new Log();
    const session = { id: "client-1", seq: 1 };
    const first = await applyOne(
      machine,
      log.entry({ lease: { op: "grant", ttl: 5 }, session }, 0),
    );
    const retry = await applyOne(
      machine,
      log.entry({ lease: { op: "grant", ttl: 5 }, session }, 9),
    );
    expect(first).toEqual({ ok: true, result: { lease: "1", ttl: 5 } });
    expect(retry).toEqual(first);
    expect(machine.leases.ids()).toEqual(["1"]);
  });
});

describe("lease state machine (level, restart)", () => {
  test("leases - a restart loads the table; replayed entries do not apply twice", async () => {
    const dataDir = await dirs.make("sm");
    const first = await open(dataDir, "level");
    const log = new Log();
    const entries = [
      log.entry({ lease: { op: "grant", ttl: 10 } }, 1_000),
      log.entry({ kv: { op: "put", key: "k", value: "v", lease: "1" } }, 1_000),
      log.entry({ lease: { op: "keepalive", id: "1" } }, 4_000),
    ];
    await first.apply(entries);
    await first.close();
    machines.splice(machines.indexOf(first), 1);
    const second = await open(dataDir, "level");
    expect(second.leases.get("1")).toEqual({
      record: { ttl: 10, renewTs: 4_000, renewTerm: 1 },
      keys: ["k"],
    });
    // The log replays from 1: the grant must not be granted twice (it would throw).
    await second.apply(entries);
    expect(second.leases.get("1")?.record.renewTs).toBe(4_000);
  });
});
