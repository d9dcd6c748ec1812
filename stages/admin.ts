import type { RaftStatus } from "../raft/node.js";
import type { ConfigChange, NodeId, ProposeResult } from "../raft/types.js";
import type { ClientItem, ReplyBody, RespondPort } from "./items.js";
import type { MemberDirectory } from "./members.js";
import { type ClientRequest, ErrorCode } from "./protocol.js";
import type { AdminCondition } from "./raft-core.js";

type AdminRequest = Extract<
  ClientRequest,
  { op: "member-add" | "member-remove" | "transfer-leader" }
>;

/** What the admin operations need of the Raft core; proposals answer after the next round. */
export interface AdminCore {
  status(): RaftStatus;
  proposeConfigChange(changes: readonly ConfigChange[], context: string): Promise<ProposeResult>;
  transferLeadership(to: NodeId): Promise<ProposeResult>;
}

/** A condition to wait for, as data: the core evaluates it where it runs (maybe a worker). */
export interface AdminWait {
  readonly condition: AdminCondition;
  readonly deadline: number;
  readonly resolve: (ok: boolean) => void;
}

/**
 * Membership changes and leadership transfer, on the leader, as multi-step operations checked
 * on every tick: member-add adds a learner, waits for it to catch up, then promotes it (joint
 * consensus, then the automatic C_new); member-remove waits for C_new to commit. One change at
 * a time: a second gets CONFLICT. The conditions are evaluated by the core after each round.
 */
export class AdminOps {
  private readonly waits = new Set<AdminWait>();
  private changing = false;

  constructor(
    private readonly core: AdminCore,
    private readonly directory: MemberDirectory,
    private readonly respond: RespondPort,
    private readonly timeoutMs: number,
  ) {}

  /** The waits to evaluate in the next round. */
  pending(): AdminWait[] {
    return this.waits.size === 0 ? [] : [...this.waits];
  }

  /** A round evaluated `waits`: resolve those whose condition holds. */
  settle(waits: readonly AdminWait[], holds: readonly boolean[]): void {
    waits.forEach((wait, k) => {
      if (!holds[k] || !this.waits.delete(wait)) return;
      wait.resolve(true);
    });
  }

  /** Called on every tick: give up the operations past their deadline. */
  expire(now: number): void {
    for (const wait of this.waits) {
      if (now < wait.deadline) continue;
      this.waits.delete(wait);
      wait.resolve(false);
    }
  }

  private get status(): RaftStatus {
    return this.core.status();
  }

  handle(item: ClientItem): void {
    const request = item.request as AdminRequest;
    const run =
      request.op === "transfer-leader"
        ? this.transfer(request.to)
        : request.op === "member-add"
          ? this.add(request)
          : this.remove(request.name);
    void run.then((body) => this.respond.reply({ target: item.target, body }));
  }

  private waitFor(condition: AdminCondition, timeoutMs = this.timeoutMs): Promise<boolean> {
    return new Promise((resolve) =>
      this.waits.add({ condition, deadline: Date.now() + timeoutMs, resolve }),
    );
  }

  /** Our entry committed (not another leader's at its index), and no joint phase pending. */
  private settled(result: Extract<ProposeResult, { ok: true }>): AdminCondition {
    return { kind: "settled", index: result.index, term: result.term };
  }

  private members(): ReplyBody {
    return { ok: true, result: { members: this.directory.view(this.status.config) } };
  }

  private refusal(result: Extract<ProposeResult, { ok: false }>): ReplyBody {
    switch (result.reason) {
      case "config-pending":
        return fail(ErrorCode.conflict, "a membership change is already in progress");
      case "not-leader":
      case "transferring":
        return fail(
          ErrorCode.unavailable,
          `this node cannot change the membership now (${result.reason})`,
        );
      case "learner-behind":
        return fail(ErrorCode.unavailable, "the learner has not caught up yet");
      default:
        return fail(ErrorCode.badRequest, `the change is not valid (${result.reason})`);
    }
  }

  private async exclusive(fn: () => Promise<ReplyBody>): Promise<ReplyBody> {
    if (this.changing)
      return fail(ErrorCode.conflict, "a membership change is already in progress");
    this.changing = true;
    try {
      return await fn();
    } finally {
      this.changing = false;
    }
  }

  private add(request: Extract<AdminRequest, { op: "member-add" }>): Promise<ReplyBody> {
    return this.exclusive(async () => {
      const config = this.status.config;
      const isVoter = config.voters.includes(request.name);
      const isLearner = config.learners.includes(request.name);
      if (isVoter || (isLearner && !request.voter))
        return fail(ErrorCode.badRequest, `${request.name} is already a member`);
      const context = this.directory.context({
        name: request.name,
        peer: request.peer,
        client: request.client,
      });
      if (!isLearner) {
        const added = await this.core.proposeConfigChange(
          [{ type: "addLearner", node: request.name }],
          context,
        );
        if (!added.ok) return this.refusal(added);
        if (!(await this.waitFor(this.settled(added)))) {
          return fail(
            ErrorCode.timeout,
            "adding the learner did not commit in time; it may commit later",
          );
        }
      }
      if (!request.voter) return this.members();
      // A learner votes only once it has caught up, so that it cannot slow the quorum down.
      const caughtUp = await this.waitFor({ kind: "caughtUp", name: request.name });
      if (!caughtUp)
        return fail(
          ErrorCode.timeout,
          `${request.name} was added as a learner but has not caught up to be promoted`,
        );
      const promoted = await this.core.proposeConfigChange(
        [{ type: "addVoter", node: request.name }],
        context,
      );
      if (!promoted.ok) {
        // The learner is in: no code that promises "nothing was done" may answer this.
        return fail(
          ErrorCode.timeout,
          `${request.name} was added as a learner but not promoted (${promoted.reason}); member-add it again to promote it`,
        );
      }
      if (!(await this.waitFor(this.settled(promoted)))) {
        return fail(ErrorCode.timeout, "the promotion did not commit in time; it may commit later");
      }
      return this.members();
    });
  }

  private remove(name: string): Promise<ReplyBody> {
    return this.exclusive(async () => {
      const config = this.status.config;
      if (!config.voters.includes(name) && !config.learners.includes(name)) {
        return fail(ErrorCode.badRequest, `${name} is not a member`);
      }
      const removed = await this.core.proposeConfigChange(
        [{ type: "remove", node: name }],
        this.directory.context(),
      );
      if (!removed.ok) return this.refusal(removed);
      // The leader may be the one removed: it steps down once C_new commits, so watch commit.
      // Our entry at its index (not another leader's), committed, and the joint phase left.
      const done = await this.waitFor(this.settled(removed));
      if (!done)
        return fail(ErrorCode.timeout, "the removal did not commit in time; it may commit later");
      return this.members();
    });
  }

  private async transfer(to: string): Promise<ReplyBody> {
    if (this.status.role === "leader" && this.status.id === to)
      return { ok: true, result: { leader: to } };
    const result = await this.core.transferLeadership(to);
    if (!result.ok) {
      return result.reason === "config-invalid"
        ? fail(ErrorCode.badRequest, `${to} is not a voter`)
        : this.refusal(result);
    }
    // Done when `to` leads; over when we still lead but gave up (after one election timeout).
    await this.waitFor({ kind: "transferred", to });
    const { leader } = this.status;
    if (leader === to) return { ok: true, result: { leader: to } };
    return fail(
      ErrorCode.unavailable,
      `the transfer to ${to} did not complete; ${leader ?? "no node"} leads`,
    );
  }
}

function fail(code: ErrorCode, message: string): ReplyBody {
  return { ok: false, error: { code, message } };
}
