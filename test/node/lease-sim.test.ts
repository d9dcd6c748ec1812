import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { SeededRandom } from "../../raft/rand.js";
import { type Entry, EntryType, type ProposeResult } from "../../raft/types.js";
import { decodeCommand, encodeCommand, type LogCommand } from "../../stages/apply/commands.js";
import {
  openStateMachine,
  type StateMachine,
  type StateMachineOptions,
} from "../../stages/apply/state-machine.js";
import { LeaseExpiry } from "../../stages/raft-step/lease-expiry.js";
import { SnapshotStore } from "../../storage/snapshot-store.js";
import { TempDirs } from "../storage/helpers.js";

/**
 * Lease expiry across crashes and leader changes, deterministic from a seed (remu's core-only
 * mode runs a string map, not this state machine; remu's node mode runs the whole pipeline
 * with lease holders: test/remu/node-leases.test.ts). Three replicas
 * run the real state machine on LevelDB and the real leader expiry check over one committed
 * log; leaders crash (an election of one to two election timeouts follows) and restart (the
 * table is loaded from the engine and the log replays); lease clients keep alive every ttl/3
 * and stop at random. Checked: no lease ends before ttl after its last acknowledged renewal;
 * every abandoned lease ends within ttl + 2 ET (+ two check periods and ticks); replicas agree.
 */

const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8];
const tickMs = 100;
const ET = 1_000;
const checkMs = ET / 4;
const ttl = 3;
const keepAliveEveryMs = (ttl * 1000) / 3;
const dirs = new TempDirs();
const open: StateMachine[] = [];

afterEach(async () => {
  for (const machine of open.splice(0)) await machine.close();
  await dirs.removeAll();
});

function options(dataDir: string): StateMachineOptions {
  return {
    kvEngine: "level",
    dataDir,
    vectors: { defaultEngine: "flat", hnsw: { m: 16, efConstruction: 200, efSearch: 50 } },
    sessions: { ttlMs: 3_600_000, window: 256, maxSessions: 1_000, expireEvery: 1_024 },
  };
}

async function openMachine(dataDir: string): Promise<StateMachine> {
  const snapshots = new SnapshotStore(join(dataDir, "snap"));
  await snapshots.open();
  const { machine } = await openStateMachine(
    options(dataDir),
    snapshots,
    null,
    false,
    Number.MAX_SAFE_INTEGER,
  );
  await machine.load();
  open.push(machine);
  return machine;
}

interface Replica {
  readonly dir: string;
  machine: StateMachine | null;
  applied: number;
  readonly expiry: LeaseExpiry;
}

interface Client {
  lease: string | null;
  /** The leader-clock time of its last acknowledged grant or keep-alive. */
  lastAck: number;
  stoppedAt: number | null;
  endedAt: number | null;
}

class Sim {
  now = 0;
  term = 1;
  leader: number | null = 0;
  /** While no leader: when the election ends. */
  electionEndsAt = 0;
  /** When the current leader took office. */
  leaderSince = 0;
  readonly log: Entry[] = [];
  readonly replicas: Replica[] = [];
  readonly clients: Client[] = [];
  private readonly proposals: { data: Uint8Array; done: (r: ProposeResult) => void }[] = [];
  private readonly pendingAsks: Promise<void>[] = [];

  constructor(readonly random: SeededRandom) {}

  async start(): Promise<void> {
    for (let k = 0; k < 3; k++) {
      const dir = await dirs.make(`lease-sim-${k}`);
      const replica: Replica = {
        dir,
        machine: await openMachine(dir),
        applied: 0,
        expiry: new LeaseExpiry(
          { now: () => this.now },
          {
            status: () => ({
              role: this.leader === k ? "leader" : "follower",
              term: this.term,
            }),
            askDue: (query, resolve) => {
              const machine = this.replicas[k]!.machine!;
              this.pendingAsks.push(machine.leasesDue(query).then(resolve));
            },
            propose: (data, done) => this.proposals.push({ data, done }),
          },
          { electionTimeoutMs: ET, checkEveryMs: checkMs },
        ),
      };
      this.replicas.push(replica);
    }
  }

  /** Append a command as the leader would; null when there is no leader. */
  append(command: Omit<LogCommand, "ts">): Entry | null {
    if (this.leader === null) return null;
    const entry: Entry = {
      term: this.term,
      index: this.log.length + 1,
      type: EntryType.normal,
      data: encodeCommand({ ...command, ts: this.now }),
      chk: 0,
    };
    this.log.push(entry);
    return entry;
  }

  /** Every live replica applies the log's tail; returns the leader's answers. */
  async applyAll(): Promise<Map<number, unknown>> {
    let answers = new Map<number, unknown>();
    for (const [k, replica] of this.replicas.entries()) {
      if (replica.machine === null || replica.applied === this.log.length) continue;
      const got = (await replica.machine.apply(this.log.slice(replica.applied))).answers;
      replica.applied = this.log.length;
      replica.expiry.applied(replica.applied);
      if (k === this.leader) answers = got;
    }
    return answers;
  }

  async step(): Promise<void> {
    this.now += tickMs;
    await this.faults();
    // The leader's check runs before this tick's keep-alives: the adversarial order.
    for (const replica of this.replicas) replica.expiry.tick();
    await Promise.all(this.pendingAsks.splice(0));
    for (const { data, done } of this.proposals.splice(0)) {
      const entry = this.append(decodeCommand(data));
      done(
        entry
          ? { ok: true, index: entry.index, term: entry.term }
          : { ok: false, reason: "not-leader", leader: null },
      );
    }
    this.clientsAct();
    const answers = await this.applyAll();
    this.settle(answers);
    this.checkBounds();
  }

  private async faults(): Promise<void> {
    const r = this.random;
    if (this.leader !== null && r.int(1000) < 8) {
      // The leader crashes; an election takes one to two election timeouts.
      await this.crash(this.replicas[this.leader]!);
      this.leader = null;
      this.electionEndsAt = this.now + ET + r.int(ET);
    }
    if (this.leader === null && this.now >= this.electionEndsAt) {
      const live = this.replicas.flatMap((replica, k) => (replica.machine ? [k] : []));
      this.term++;
      this.leader = r.pick(live);
      this.leaderSince = this.now;
      // The crashed come back: the table is loaded from the engine and the log replays.
      for (const replica of this.replicas) {
        if (replica.machine !== null) continue;
        replica.machine = await openMachine(replica.dir);
        replica.applied = 0;
      }
    }
  }

  private async crash(replica: Replica): Promise<void> {
    await replica.machine!.close();
    open.splice(open.indexOf(replica.machine!), 1);
    replica.machine = null;
  }

  /** Entries this step appended for clients, to settle once applied. */
  private asks: { client: Client; index: number; ts: number }[] = [];

  private clientsAct(): void {
    const r = this.random;
    if (this.clients.length < 12 && r.int(100) < 5) {
      const client: Client = { lease: null, lastAck: 0, stoppedAt: null, endedAt: null };
      this.clients.push(client);
    }
    for (const client of this.clients) {
      if (client.stoppedAt !== null || client.endedAt !== null) continue;
      if (client.lease !== null && r.int(1000) < 15) {
        client.stoppedAt = this.now; // the client dies: its keep-alives stop
        continue;
      }
      if (client.lease === null) {
        const entry = this.append({ lease: { op: "grant", ttl } });
        if (entry) this.asks.push({ client, index: entry.index, ts: this.now });
      } else if (this.now % keepAliveEveryMs === 0) {
        const entry = this.append({ lease: { op: "keepalive", id: client.lease } });
        if (entry) this.asks.push({ client, index: entry.index, ts: this.now });
      }
    }
  }

  private settle(answers: Map<number, unknown>): void {
    for (const { client, index, ts } of this.asks.splice(0)) {
      const answer = answers.get(index) as { ok: boolean; result?: { lease?: string } } | undefined;
      if (answer === undefined) continue; // the leader crashed before it answered
      if (answer.ok) {
        if (client.lease === null) {
          client.lease = answer.result!.lease!;
          this.append({
            kv: { op: "put", key: `k/${client.lease}`, value: "v", lease: client.lease },
          });
        }
        client.lastAck = ts;
      } else client.endedAt ??= this.now; // NOT_FOUND: the lease ended
    }
  }

  /** No lease ends early; an abandoned one ends in time. `seed` goes into every message. */
  private checkBounds(): void {
    const leader = this.leader === null ? null : this.replicas[this.leader]!.machine!;
    for (const client of this.clients) {
      if (client.lease === null || leader === null) continue;
      const exists = leader.leases.has(client.lease);
      if (!exists && client.endedAt === null) client.endedAt = this.now;
      // Kept alive every ttl/3 through elections of at most 2 ET: it must never end.
      // Kept alive every ttl/3, a lease ends only when no leader could be reached for longer
      // than a later leader's grace (back-to-back elections); the one that renewed it would
      // have renewed it again. An abandoned one never ends before ttl.
      const grace = client.stoppedAt === null ? ttl * 1000 + ET : ttl * 1000;
      if (!exists)
        expect(
          client.endedAt! - client.lastAck,
          `early end of ${client.lease}`,
        ).toBeGreaterThanOrEqual(grace);
      // Abandoned: gone by ttl + 2 ET after its last renewal — unless the election came so
      // late that the new leader's grace (ttl/3 + ET from taking office) runs longer.
      const slack = 2 * checkMs + 2 * tickMs;
      const afterRenewal = client.lastAck + ttl * 1000 + 2 * ET;
      const afterElection = this.leaderSince + (ttl * 1000) / 3 + ET;
      if (client.stoppedAt !== null && client.endedAt === null)
        expect(
          this.now,
          `lease ${client.lease} outlived its bound (last renewal ${client.lastAck})`,
        ).toBeLessThanOrEqual(Math.max(afterRenewal, afterElection) + slack);
    }
  }

  async restartAll(): Promise<void> {
    for (const replica of this.replicas) {
      if (replica.machine !== null) await this.crash(replica);
      replica.machine = await openMachine(replica.dir);
      replica.applied = 0;
    }
    await this.applyAll();
  }
}

describe("leases across crashes and leader changes (seeded)", () => {
  test.each(SEEDS)(
    "lease sim - seed %i: nothing ends early, abandoned leases end in time, replicas agree",
    async (seed) => {
      const sim = new Sim(new SeededRandom(seed));
      await sim.start();
      try {
        for (let k = 0; k < 600; k++) await sim.step();
        await sim.restartAll();
      } catch (error) {
        throw new Error(`SEED=${seed}: ${(error as Error).message}`);
      }
      const [first, ...rest] = sim.replicas.map((replica) => replica.machine!);
      const view = async (machine: StateMachine) => ({
        leases: machine.leases.ids().map((id) => machine.leases.get(id)),
        keys: await machine.kv.scan({ limit: 10_000, start: "\u0001" }),
      });
      const expected = await view(first!);
      for (const machine of rest) expect(await view(machine), `SEED=${seed}`).toEqual(expected);
      // The run did what it is meant to: leaders changed, leases were granted and expired.
      expect(sim.term, `SEED=${seed}`).toBeGreaterThan(1);
      expect(sim.clients.filter((c) => c.endedAt !== null).length, `SEED=${seed}`).toBeGreaterThan(
        0,
      );
    },
  );
});
