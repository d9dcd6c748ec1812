import pino from "pino";
import { describe, expect, test } from "vitest";
import type { RaftStatus } from "../../raft/node.js";
import type { ConfigChange, MembershipConfig, ProposeResult } from "../../raft/types.js";
import type { ClientItem, Reply } from "../../stages/items.js";
import type { ClientRequest } from "../../stages/protocol.js";
import { type AdminCore, AdminOps } from "../../stages/raft-step/admin.js";
import { MemberDirectory, promoteIntent } from "../../stages/raft-step/members.js";
import { Removal } from "../../stages/raft-step/removal.js";

const silent = pino({ level: "silent" });
const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

/** A leader whose config changes are answered by the test, one at a time. */
class FakeCore implements AdminCore {
  config: MembershipConfig = { voters: ["n1", "n2", "n3"], outgoing: [], learners: [] };
  context = "";
  readonly proposals: { changes: readonly ConfigChange[]; context: string }[] = [];
  answers: ProposeResult[] = [];

  now(): number {
    return Date.now();
  }

  status(): RaftStatus {
    return {
      id: "n1",
      group: 1,
      role: "leader",
      term: 2,
      leader: "n1",
      vote: "n1",
      commitIndex: 10,
      appliedIndex: 10,
      lastIndex: 10,
      firstIndex: 1,
      config: this.config,
      leadTransferee: null,
      followersLostEntries: 0,
      lastLostEntries: null,
      catchUpIndex: 0,
      elections: { timeout: 0, leaderUnreachable: 0, transfer: 0 },
      lastElectionReason: null,
    };
  }

  configContext(): string {
    return this.context;
  }

  async proposeConfigChange(changes: readonly ConfigChange[], context: string) {
    this.proposals.push({ changes, context });
    return this.answers.shift() ?? { ok: true as const, index: 11, term: 2 };
  }

  async transferLeadership(): Promise<ProposeResult> {
    return { ok: false, reason: "not-leader", leader: null };
  }
}

function setup() {
  const core = new FakeCore();
  const replies: Reply[] = [];
  const directory = new MemberDirectory(new Map([["n1", "h:1"]]));
  const admin = new AdminOps(core, directory, { reply: (r) => replies.push(r) }, 30_000, silent);
  let id = 0;
  const send = (request: ClientRequest) => {
    const item: ClientItem = {
      kind: "client",
      target: { kind: "local", connId: 1, id: ++id },
      admin: true,
      request,
      deadline: Date.now() + 5_000,
    };
    admin.handle(item);
  };
  /** Evaluate every pending wait as holding (the core would, once it commits). */
  const commitAll = () => {
    const waits = admin.pending();
    admin.settle(
      waits,
      waits.map(() => true),
    );
  };
  return { core, admin, replies, send, commitAll };
}

const add = (name: string, voter = true): ClientRequest => ({
  op: "member-add",
  name,
  peer: `${name}:1`,
  client: `${name}:2`,
  voter,
});

describe("admin ops", () => {
  test("admin - member-add answers once the learner commits and records the promotion", async () => {
    const { core, replies, send, commitAll } = setup();
    send(add("n4"));
    await flush();
    expect(core.proposals[0]!.changes).toEqual([{ type: "addLearner", node: "n4" }]);
    expect(promoteIntent(core.proposals[0]!.context)).toEqual(["n4"]);
    expect(replies).toHaveLength(0);
    commitAll();
    await flush();
    expect(replies[0]!.body.ok).toBe(true);
  });

  test("admin - the autopilot promotes a recorded learner; an operator change waits for it", async () => {
    const { core, admin, replies, send, commitAll } = setup();
    core.config = { voters: ["n1", "n2", "n3"], outgoing: [], learners: ["n4"] };
    core.context = JSON.stringify({ members: [], promote: ["n4"] });
    admin.autopilot();
    await flush();
    expect(core.proposals[0]!.changes).toEqual([{ type: "addVoter", node: "n4" }]);
    expect(promoteIntent(core.proposals[0]!.context)).toEqual([]);
    // The promotion is being committed: the operator's change is not CONFLICT; it goes next.
    send(add("n5", false));
    await flush();
    expect(replies).toHaveLength(0);
    commitAll();
    await flush();
    await flush();
    expect(core.proposals[1]!.changes).toEqual([{ type: "addLearner", node: "n5" }]);
    commitAll();
    await flush();
    expect(replies.map((r) => r.body.ok)).toEqual([true]);
  });

  test("admin - a refusal while the configuration settles is waited out, not CONFLICT", async () => {
    const { core, replies, send, commitAll } = setup();
    core.answers = [{ ok: false, reason: "config-pending", leader: "n1" }];
    send({ op: "member-remove", name: "n3" });
    await flush();
    commitAll(); // the configuration settled
    await flush();
    expect(core.proposals).toHaveLength(2);
    commitAll(); // the removal committed
    await flush();
    expect(replies[0]!.body.ok).toBe(true);
  });

  test("admin - a second operator change in flight gets CONFLICT; promote needs a learner", async () => {
    const { replies, send } = setup();
    send(add("n4"));
    send(add("n5"));
    send({ op: "member-promote", name: "n2" });
    await flush();
    const codes = replies.map((r) => (r.body.ok ? "ok" : r.body.error.code));
    expect(codes).toEqual(["CONFLICT", "CONFLICT"]);
  });
});

describe("removal", () => {
  function removal(status: Partial<RaftStatus>, configIndex = 5) {
    const removedPeers: string[] = [];
    const reasons: string[] = [];
    const full = { ...new FakeCore().status(), ...status } as RaftStatus;
    const subject = new Removal(
      { status: () => full, configIndex: () => configIndex, now: () => Date.now() },
      {
        peerNames: () => ["n2", "n3", "n4"],
        removePeer: (name) => removedPeers.push(name),
        notifyRemoved: () => {},
      },
      new MemberDirectory(new Map()),
      (reason) => reasons.push(reason),
      silent,
    );
    return { subject, removedPeers, reasons };
  }

  test("removal - a node that was never a member ignores a notice", () => {
    const { subject, reasons } = removal({
      role: "follower",
      config: { voters: [], outgoing: [], learners: [] },
    });
    subject.tick();
    subject.onNotice("n1", { term: 9, commitIndex: 99 });
    expect(reasons).toEqual([]);
  });

  test("removal - a notice from a leader behind this node is ignored; a current one is believed", () => {
    const { subject, reasons } = removal({ role: "follower", term: 2, commitIndex: 10 });
    subject.tick();
    subject.onNotice("n2", { term: 1, commitIndex: 50 });
    subject.onNotice("n2", { term: 2, commitIndex: 9 });
    expect(reasons).toEqual([]);
    subject.onNotice("n2", { term: 2, commitIndex: 10 });
    expect(reasons).toHaveLength(1);
    expect(subject.isRemoved).toBe(true);
  });

  test("removal - links to peers a committed configuration drops are closed, not before", () => {
    const uncommitted = removal({ role: "leader" }, 11);
    uncommitted.subject.tick();
    expect(uncommitted.removedPeers).toEqual([]);
    const committed = removal({ role: "leader" }, 10);
    committed.subject.tick();
    expect(committed.removedPeers).toEqual(["n4"]);
  });
});
