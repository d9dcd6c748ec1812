import type { SeededRandom } from "../../../raft/rand.js";
import type { ClientRequest } from "../../../stages/protocol.js";
import { adminConnection, type NodeHost } from "./host.js";

/** What the membership driver needs of the run. */
export interface MembershipWorld {
  readonly hosts: readonly NodeHost[];
  readonly random: SeededRandom;
  readonly nodes: number;
  now(): number;
  note(line: string): void;
  boot(host: NodeHost): void;
}

type Reply = { ok: boolean; error?: { code: string } };

/**
 * Membership changes under faults, through the admin ops: remove a voter (it is then powered
 * off and its disk wiped, as an operator would), later add it back (member-add, voter: it
 * joins as a learner and the autopilot promotes it). One change at a time, sent to the leader.
 */
export class MembershipDriver {
  private busy = false;
  stats = { removed: 0, added: 0, failed: 0 };

  constructor(private readonly world: MembershipWorld) {}

  step(): void {
    if (this.busy) return;
    const leader = this.world.hosts.find((h) => h.life?.raft.status().role === "leader");
    if (leader === undefined) return;
    const config = leader.life!.raft.status().config;
    if (config.outgoing.length > 0) return;
    const members = new Set([...config.voters, ...config.learners]);
    const missing = this.world.hosts.filter((h) => !members.has(h.name));
    if (missing.length > 0) {
      this.add(leader, this.world.random.pick(missing));
      return;
    }
    if (config.voters.length < this.world.nodes) return;
    const victim = this.world.random.pick(config.voters.filter((v) => v !== leader.name));
    const host = this.world.hosts.find((h) => h.name === victim)!;
    this.send(leader, { op: "member-remove", name: victim }, (reply) => {
      if (!reply.ok) return;
      this.stats.removed++;
      this.world.note(`${victim} removed; powered off, disk wiped`);
      host.retire();
    });
  }

  private add(leader: NodeHost, host: NodeHost): void {
    // Still running on an old disk (its removal's answer was lost): wipe it first.
    if (!host.retired) host.retire();
    const request: ClientRequest = {
      op: "member-add",
      name: host.name,
      peer: `${host.name}:peer`,
      client: `${host.name}:client`,
      voter: true,
    };
    this.send(leader, request, (reply) => {
      if (!reply.ok) return;
      this.stats.added++;
      this.world.note(`${host.name} added back; booting from an empty disk`);
      host.retired = false;
      this.world.boot(host);
    });
  }

  private send(host: NodeHost, request: ClientRequest, done: (reply: Reply) => void): void {
    const pipeline = host.life!.pipeline;
    this.busy = true;
    let settled = false;
    const finish = (reply: Reply) => {
      if (settled) return;
      settled = true;
      this.busy = false;
      if (!reply.ok) this.stats.failed++;
      this.world.note(
        `admin ${request.op} via ${host.name} → ${reply.ok ? "ok" : reply.error?.code}`,
      );
      done(reply);
    };
    const connection = adminConnection<Reply>(host, finish, () =>
      finish({ ok: false, error: { code: "CONNECTION_LOST" } }),
    );
    const target = { kind: "local" as const, connId: connection.connId, id: 1 };
    const deadline = host.life!.clock.now() + 8_000;
    if (!pipeline.raftStep.offer({ kind: "client", target, request, admin: true, deadline }))
      finish({ ok: false, error: { code: "OVERLOADED" } });
  }
}
