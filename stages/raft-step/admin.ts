import type { Logger } from "pino";
import type { RaftStatus } from "../../raft/node.js";
import type { ConfigChange, NodeId, ProposeResult } from "../../raft/types.js";
import type { ClientItem, ReplyBody, RespondPort } from "../items.js";
import { type ClientRequest, ErrorCode } from "../protocol.js";
import { type MemberDirectory, promoteIntent } from "./members.js";
import type { AdminCondition } from "./raft-core.js";

type AdminRequest = Extract<
  ClientRequest,
  { op: "member-add" | "member-remove" | "member-promote" | "transfer-leader" }
>;
type Proposed = Extract<ProposeResult, { ok: true }>;
type Refused = Extract<ProposeResult, { ok: false }>;

/** What the admin operations need of the Raft core; proposals answer after the next round. */
export interface AdminCore {
  status(): RaftStatus;
  /** The context of the current configuration (member addresses, promotions to make). */
  configContext(): string;
  proposeConfigChange(changes: readonly ConfigChange[], context: string): Promise<ProposeResult>;
  transferLeadership(to: NodeId): Promise<ProposeResult>;
  /** The stage's clock (wall ms). */
  now(): number;
}

/** A condition to wait for, as data: the core evaluates it where it runs (maybe a worker). */
export interface AdminWait {
  readonly condition: AdminCondition;
  readonly deadline: number;
  readonly resolve: (ok: boolean) => void;
}

/**
 * Membership changes and leadership transfer, on the leader. member-add commits the node as
 * a learner and answers; a voter-to-be is recorded in the configuration's context, and the
 * leader's autopilot (any leader: the record is replicated) promotes it once it has caught up.
 * member-remove answers once C_new is committed. One operator change at a time: a second gets
 * CONFLICT; a pending automatic promotion does not count (a promotion being committed is
 * waited for). The conditions are evaluated by the core after each round.
 */
export class AdminOps {
  private readonly waits = new Set<AdminWait>();
  /** An operator's change is in flight. */
  private changing = false;
  /** The autopilot's promotion in flight, if any. */
  private promoting: Promise<void> | null = null;

  constructor(
    private readonly core: AdminCore,
    private readonly directory: MemberDirectory,
    private readonly respond: RespondPort,
    private readonly timeoutMs: number,
    private readonly log: Logger,
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
    void this.run(request).then((body) => this.respond.reply({ target: item.target, body }));
  }

  private run(request: AdminRequest): Promise<ReplyBody> {
    switch (request.op) {
      case "transfer-leader":
        return this.transfer(request.to);
      case "member-add":
        return this.exclusive(() => this.add(request));
      case "member-remove":
        return this.exclusive(() => this.remove(request.name));
      case "member-promote":
        return this.exclusive(() => this.promote(request.name));
    }
  }

  /**
   * Called on every tick: on the leader, promote one learner the configuration asks to
   * promote, if it has caught up (the core refuses the change otherwise; tried again later).
   */
  autopilot(): void {
    if (this.changing || this.promoting !== null || this.status.role !== "leader") return;
    const { learners } = this.status.config;
    const name = this.intent().find((n) => learners.includes(n));
    if (name === undefined) return;
    this.promoting = (async () => {
      const promoted = await this.core.proposeConfigChange(
        [{ type: "addVoter", node: name }],
        this.directory.context(undefined, this.intentWithout(name)),
      );
      if (!promoted.ok) return;
      const settled = await this.waitFor(settledAt(promoted));
      this.log.info(
        { group: this.status.group, term: promoted.term, index: promoted.index, member: name },
        settled ? "learner caught up: promoted to voter" : "promotion not committed in time",
      );
    })().finally(() => {
      this.promoting = null;
    });
  }

  private intent(): NodeId[] {
    return promoteIntent(this.core.configContext());
  }

  private intentWithout(name: NodeId): NodeId[] {
    return this.intent().filter((n) => n !== name);
  }

  private waitFor(condition: AdminCondition, timeoutMs = this.timeoutMs): Promise<boolean> {
    return new Promise((resolve) =>
      this.waits.add({ condition, deadline: this.core.now() + timeoutMs, resolve }),
    );
  }

  private members(): ReplyBody {
    return { ok: true, result: { members: this.directory.view(this.status.config) } };
  }

  private refusal(result: Refused): ReplyBody {
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
        return fail(
          ErrorCode.unavailable,
          "the learner has not caught up with the leader yet; nothing was done, retry later",
        );
      default:
        return fail(ErrorCode.badRequest, `the change is not valid (${result.reason})`);
    }
  }

  private async exclusive(fn: () => Promise<ReplyBody>): Promise<ReplyBody> {
    if (this.changing)
      return fail(ErrorCode.conflict, "a membership change is already in progress");
    this.changing = true;
    try {
      // An automatic promotion already proposed is let finish (it is bounded by its wait).
      await this.promoting;
      return await fn();
    } finally {
      this.changing = false;
    }
  }

  /**
   * Propose an operator's change and wait for it to commit. The core refuses while its
   * configuration is not settled (a new leader's first entry, the leave-joint entry, a change
   * left by the previous leader): that is no operator change in flight here, so wait for it
   * to settle and propose once more.
   */
  private async change(changes: readonly ConfigChange[], context: string): Promise<ReplyBody> {
    let result = await this.core.proposeConfigChange(changes, context);
    if (!result.ok && result.reason === "config-pending") {
      await this.waitFor({ kind: "configSettled" });
      result = await this.core.proposeConfigChange(changes, context);
    }
    if (!result.ok) return this.refusal(result);
    if (!(await this.waitFor(settledAt(result))))
      return fail(ErrorCode.timeout, "the change did not commit in time; it may commit later");
    return this.members();
  }

  private async add(request: Extract<AdminRequest, { op: "member-add" }>): Promise<ReplyBody> {
    const { name } = request;
    const config = this.status.config;
    const intent = this.intent();
    if (config.learners.includes(name) && request.voter) {
      // A retried member-add: the promotion is already recorded; else promote it now.
      return intent.includes(name) ? this.members() : this.promote(name);
    }
    if (config.voters.includes(name) || config.learners.includes(name))
      return fail(ErrorCode.badRequest, `${name} is already a member`);
    const context = this.directory.context(
      { name, peer: request.peer, client: request.client },
      request.voter ? [...intent, name] : intent,
    );
    return this.change([{ type: "addLearner", node: name }], context);
  }

  private remove(name: NodeId): Promise<ReplyBody> {
    const config = this.status.config;
    if (!config.voters.includes(name) && !config.learners.includes(name))
      return Promise.resolve(fail(ErrorCode.badRequest, `${name} is not a member`));
    // The leader may be the one removed: it steps down once C_new commits; `settled` holds.
    return this.change(
      [{ type: "remove", node: name }],
      this.directory.context(undefined, this.intentWithout(name)),
    );
  }

  private promote(name: NodeId): Promise<ReplyBody> {
    if (!this.status.config.learners.includes(name))
      return Promise.resolve(fail(ErrorCode.badRequest, `${name} is not a learner`));
    return this.change(
      [{ type: "addVoter", node: name }],
      this.directory.context(undefined, this.intentWithout(name)),
    );
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

/** Our entry committed (not another leader's at its index), and no joint phase pending. */
function settledAt(result: Proposed): AdminCondition {
  return { kind: "settled", index: result.index, term: result.term };
}

function fail(code: ErrorCode, message: string): ReplyBody {
  return { ok: false, error: { code, message } };
}
