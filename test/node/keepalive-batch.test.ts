import { describe, expect, test } from "vitest";
import type { ProposeResult } from "../../raft/types.js";
import { decodeCommand } from "../../stages/apply/commands.js";
import { type Waiter, Waiters } from "../../stages/apply/waiters.js";
import type { ClientItem } from "../../stages/items.js";
import { KeepAliveBatcher } from "../../stages/raft-step/keepalive-batch.js";
import { RoundBuilder } from "../../stages/raft-step/rounds.js";

/** The leader's keep-alive batching alone: which entries a round's keep-alives become. */

function keepalive(n: number, lease: string): ClientItem {
  return {
    kind: "client",
    target: { kind: "local", connId: 1, id: n },
    request: { op: "lease-keepalive", lease },
    admin: false,
    deadline: 60_000,
  };
}

/** What each proposal of the round carries, as the round reads it when it starts. */
function entries(round: RoundBuilder): { ids: readonly string[]; ts: number }[] {
  return round.input(1, [], 0).proposals.map((data) => {
    const command = decodeCommand(data);
    if (command.lease?.op !== "keepalives") throw new Error("not a keepalives entry");
    return { ids: command.lease.ids, ts: command.ts };
  });
}

function setup(maxIds: number) {
  let now = 1_000;
  const answered: [unknown, ProposeResult][] = [];
  const batcher = new KeepAliveBatcher(
    () => now,
    (item, result) => answered.push([item.target.id, result]),
    maxIds,
  );
  return { batcher, answered, advance: (ms: number) => (now += ms) };
}

describe("keep-alive batching", () => {
  test("keep-alive batching - a round's keep-alives share one entry, at most maxIds distinct ids each", () => {
    const { batcher } = setup(3);
    const round = new RoundBuilder();
    const leases = ["1", "2", "3", "4", "5", "6", "7"];
    for (const [n, lease] of leases.entries()) batcher.add(round, keepalive(n, lease), lease);
    expect(entries(round).map((entry) => entry.ids)).toEqual([
      ["1", "2", "3"],
      ["4", "5", "6"],
      ["7"],
    ]);
    // Seven clients, three proposals: four waiters beyond one per proposal.
    expect(batcher.extraWaiters(round)).toBe(4);
    expect(batcher.extraWaiters(new RoundBuilder())).toBe(0);
  });

  test("keep-alive batching - the same lease twice is one id with two clients; a full batch still takes it", () => {
    const { batcher, answered } = setup(2);
    const round = new RoundBuilder();
    batcher.add(round, keepalive(1, "8"), "8");
    batcher.add(round, keepalive(2, "9"), "9");
    batcher.add(round, keepalive(3, "8"), "8");
    expect(entries(round).map((entry) => entry.ids)).toEqual([["8", "9"]]);
    round.proposals[0]!.proposed!({ ok: true, index: 12, term: 3 });
    expect(answered).toEqual([
      [1, { ok: true, index: 12, term: 3 }],
      [2, { ok: true, index: 12, term: 3 }],
      [3, { ok: true, index: 12, term: 3 }],
    ]);
  });

  test("keep-alive batching - the entry is stamped when the round starts; later keep-alives take a new entry", () => {
    const { batcher, advance } = setup(100);
    const first = new RoundBuilder();
    batcher.add(first, keepalive(1, "1"), "1");
    advance(40);
    batcher.add(first, keepalive(2, "2"), "2");
    advance(10);
    // Stamped after its last member arrived: nobody's renewal counts from before its request.
    expect(entries(first)).toEqual([{ ids: ["1", "2"], ts: 1_050 }]);
    // The round has taken the entry: a keep-alive gathered into the same builder after that
    // (it cannot happen in raft-step, which gathers into a new round) starts another.
    batcher.add(first, keepalive(3, "3"), "3");
    expect(first.proposals).toHaveLength(2);
    const second = new RoundBuilder();
    batcher.add(second, keepalive(4, "1"), "1");
    expect(entries(second).map((entry) => entry.ids)).toEqual([["1"]]);
  });

  test("keep-alive batching - a refused entry refuses each of its clients", () => {
    const { batcher, answered } = setup(10);
    const round = new RoundBuilder();
    batcher.add(round, keepalive(1, "1"), "1");
    batcher.add(round, keepalive(2, "2"), "2");
    round.proposals[0]!.proposed!({ ok: false, reason: "not-leader", leader: null });
    expect(answered.map(([id, result]) => [id, result.ok])).toEqual([
      [1, false],
      [2, false],
    ]);
  });
});

describe("apply's waiters", () => {
  const waiter = (id: number, deadline: number): Waiter => ({
    term: 1,
    target: { kind: "local", connId: 1, id },
    request: { op: "lease-keepalive", lease: "1" },
    deadline,
  });

  test("apply's waiters - the clients of one entry are all taken; the expired go alone", () => {
    const waiters = new Waiters();
    waiters.add(5, waiter(1, 100));
    waiters.add(5, waiter(2, 300));
    waiters.add(5, waiter(3, 300));
    waiters.add(6, waiter(4, 100));
    expect(waiters.expire(200).map((w) => w.target.id)).toEqual([1, 4]);
    expect(waiters.take(6)).toEqual([]);
    expect(waiters.take(5).map((w) => w.target.id)).toEqual([2, 3]);
    expect(waiters.take(5)).toEqual([]);
    waiters.add(7, waiter(5, 100));
    expect(waiters.take(7).map((w) => w.target.id)).toEqual([5]);
  });
});
