import type { Logger } from "pino";
import {
  type Clock,
  Stage,
  type StageSnapshot,
  systemClock,
  type Timer,
} from "../../queues/mod.js";
import type { RaftStatus } from "../../raft/node.js";
import type { NodeId, Ready, SnapshotMeta } from "../../raft/types.js";
import type { ClientItem, RaftStepItem, RaftStepPort } from "../items.js";
import { type AdminCore, AdminOps, type AdminWait } from "./admin.js";
import { ReadyFanout } from "./fanout.js";
import { LeaseExpiry } from "./lease-expiry.js";
import type { MemberDirectory } from "./members.js";
import { type RaftStepOptions, type RaftStepPorts, readiesInWalDefault } from "./options.js";
import type { CoreView, RaftCore, RoundOutput } from "./raft-core.js";
import { Removal, type RemovedNotice } from "./removal.js";
import { Requests } from "./requests.js";
import { Outbox, outboxCapacity, RoundBuilder } from "./rounds.js";
import { CoreEvents, contractStatus, type Readiness, readiness } from "./status.js";

export type { RaftStepOptions, RaftStepPorts } from "./options.js";

/** The depths of raft-step's bounded queues and tables. */
export interface RaftStepQueues {
  readonly readIndexWaiting: number;
  readonly forwardsWaiting: number;
  readonly readiesInWal: number;
  readonly outboxItems: number;
}

/**
 * Stage 2: drives the Raft core. Client requests become proposals or ReadIndex requests, peer
 * messages are stepped, a timer ticks; then every Ready is fanned out — messages to replicate,
 * durable state to wal-append, committed entries and safe reads to apply. The core is reached
 * in rounds (raft-core.ts): inline on the event loop, or in a worker thread; one round runs at
 * a time and carries everything gathered since the last. A Ready is taken only when
 * wal-append and apply have room for it, so nothing the core hands out is ever dropped.
 */
export class RaftStepStage implements RaftStepPort {
  readonly stage: Stage<RaftStepItem>;
  private timer: Timer | null = null;
  private readonly clock: Clock;
  /** dropped: reads skipped because their client had gone; strayForwardReplies: forwarding.ts. */
  stats = {
    readies: 0,
    proposals: 0,
    forwarded: 0,
    refused: 0,
    dropped: 0,
    rounds: 0,
    strayForwardReplies: 0,
  };

  private readonly admin: AdminOps;
  private readonly removal: Removal;
  private readonly requests: Requests;
  private readonly events: CoreEvents;
  private readonly leaseExpiry: LeaseExpiry;
  private next = new RoundBuilder();
  /** A round is running (inline: on the stack; workers: awaiting the worker). */
  private busy = false;
  private readonly outbox: Outbox;
  private readonly fanout: ReadyFanout;
  private stopped = false;
  /** The round a worker is running, if any. */
  private inflight: Promise<void> | null = null;

  constructor(
    private readonly core: RaftCore,
    private readonly ports: RaftStepPorts,
    directory: MemberDirectory,
    private readonly options: RaftStepOptions,
    private readonly log: Logger,
  ) {
    this.clock = ports.clock ?? systemClock;
    this.admin = this.newAdmin(directory);
    this.removal = this.newRemoval(directory);
    const outboxPorts = {
      ...ports,
      inWal: { hasRoom: (n: number) => this.fanout.inWal.hasRoom(n, 0) },
    };
    const outboxItems = outboxCapacity(options.batchItems);
    this.outbox = new Outbox(outboxPorts, (ready) => this.fanout.dispatch(ready), outboxItems);
    this.requests = new Requests(
      {
        core,
        admin: this.admin,
        removal: this.removal,
        outbox: this.outbox,
        round: () => this.next,
      },
      { ...ports, clock: this.clock },
      directory,
      options,
      this.stats,
      log,
    );
    this.events = new CoreEvents(core.group, () => core.status(), log);
    this.fanout = new ReadyFanout(
      ports,
      directory,
      {
        self: core.id,
        events: this.events,
        settleReads: (states) => this.requests.settleReads(states),
        stats: this.stats,
      },
      options.readiesInWalMax ?? readiesInWalDefault,
    );
    this.leaseExpiry = this.newLeaseExpiry();
    this.fanout.learnMembers(core.view().configContext);
    this.stage = new Stage<RaftStepItem>("raft-step", (batch) => this.handle(batch), {
      capacityItems: options.capacityItems,
      batch: { maxItems: options.batchItems },
      concurrency: 1,
      poolKind: core.pool,
      poolSize: 1,
      now: () => this.clock.elapsed(),
    });
    this.stage.on("error", (error) => this.fatal(error));
  }

  /** Admin ops (admin.ts) propose through the next round. */
  private newAdmin(directory: MemberDirectory): AdminOps {
    const adminCore: AdminCore = {
      now: () => this.clock.now(),
      status: () => this.core.status(),
      configContext: () => this.core.view().configContext,
      proposeConfigChange: (changes, context) =>
        new Promise((resolve) => {
          this.next.configChanges.push({ changes, context, resolve });
          this.run();
        }),
      transferLeadership: (to) =>
        new Promise((resolve) => {
          this.next.transfers.push({ to, resolve });
          this.run();
        }),
    };
    const log = this.log.child({ part: "admin" });
    return new AdminOps(adminCore, directory, this.ports.respond, this.options.adminTimeoutMs, log);
  }

  /** Removal (removal.ts) tells the program once this member is removed for good. */
  private newRemoval(directory: MemberDirectory): Removal {
    const removed = (reason: string): void => {
      this.log.warn(
        { group: this.core.group, term: this.core.status().term, reason },
        "the member has been permanently removed from the cluster",
      );
      this.ports.removed?.(reason);
    };
    const removalCore = {
      status: () => this.core.status(),
      configIndex: () => this.core.view().configIndex,
      now: () => this.clock.now(),
    };
    const log = this.log.child({ part: "removal" });
    return new Removal(removalCore, this.ports.replicate, directory, removed, log);
  }

  /** Lease expiry (lease-expiry.ts) asks apply through the outbox and proposes in rounds. */
  private newLeaseExpiry(): LeaseExpiry {
    return LeaseExpiry.onTicks(this.clock, this.options, {
      status: () => this.core.status(),
      askDue: (query, resolve) =>
        this.outbox.push({ kind: "apply", item: { kind: "lease-due", query, resolve } }),
      propose: (data, proposed) => {
        this.next.proposals.push({ data, item: null, proposed });
        this.run();
      },
    });
  }

  start(): void {
    this.timer = this.clock.every(this.options.tickMs, () => this.tick());
    this.run();
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  /** After the pipeline drained: no more rounds; the round out (if any) finishes first. */
  async close(): Promise<void> {
    this.stop();
    this.stopped = true;
    await this.inflight;
    await this.core.close();
  }

  offer(item: RaftStepItem): boolean {
    return this.stage.offer(item);
  }

  snapshot(): StageSnapshot {
    return this.stage.snapshot();
  }

  status(): RaftStatus {
    return this.core.status();
  }

  /** The core's state for /dashboard and /metrics (with workers: as of the last round). */
  view(): CoreView {
    return this.core.view();
  }

  /**
   * Readys the core handed out that wait in the outbox for room downstream. Always 0 when the
   * Ready budget is right (a Ready is taken only when wal-append and apply have room); remu's
   * node mode checks it after every event.
   */
  get readiesWaiting(): number {
    return this.outbox.readies;
  }

  /** What raft-step's own queues and tables hold now (docs/queues.md; /metrics). */
  queues(): RaftStepQueues {
    const waiting = this.requests.waiting();
    return {
      readIndexWaiting: waiting.readIndex,
      forwardsWaiting: waiting.forwards,
      readiesInWal: this.fanout.inWal.depth,
      outboxItems: this.outbox.size,
    };
  }

  get pool(): "inline" | "workers" {
    return this.core.pool;
  }

  private fatal(error: unknown): void {
    // An assertion in the core, a dead core worker, or a Ready half fanned out: nothing sound
    // can follow.
    this.ports.fatal(error, { stage: "raft-step", message: "raft-step failed; stopping the node" });
  }

  private tick(): void {
    this.next.ticks++;
    this.leaseExpiry.tick();
    this.admin.expire(this.clock.now());
    this.admin.autopilot();
    this.removal.tick();
    this.requests.expire(this.clock.now());
    this.run();
  }

  private handle(batch: RaftStepItem[]): void | Promise<void> {
    for (const item of batch) {
      if (item.kind === "peer") {
        for (const message of item.messages) this.next.messages.push(message);
        const first = item.messages[0];
        if (first !== undefined) this.removal.heard(first.from);
      } else this.requests.handle(item);
    }
    if (this.core.pool === "inline" || this.next.isEmpty()) {
      // Inline the round runs now; a batch that gave the core nothing (stale reads, status)
      // need not wait for a worker's round.
      this.run();
      return;
    }
    // The stage takes its next batch once this one's round is done: one round in flight.
    const done = new Promise<void>((resolve) => this.next.batchesDone.push(resolve));
    this.run();
    return done;
  }

  /** The transport found `name`'s process gone (its link closed, the reconnect refused). */
  onPeerUnreachable(name: NodeId): void {
    this.requests.peerGone(name);
    this.next.unreachable.push(name);
    this.run();
  }

  /** A peer's "you were removed" notice (removal.ts decides whether to believe it). */
  onRemovedNotice(from: NodeId, notice: RemovedNotice): void {
    this.removal.onNotice(from, notice);
  }

  /** The contract's status fields (also the start of /health). */
  statusResult(): Record<string, unknown> {
    return contractStatus(this.core.status());
  }

  /** CONTRACT §7's readiness (/readyz, /health's status): status.ts has the rule. */
  readiness(): Readiness {
    return readiness(this.core.status(), this.removal.isRemoved);
  }

  /** The leader answered a request this node forwarded (null: not one to answer). */
  onForwardReply(forwardId: number, from: NodeId): ClientItem | null {
    return this.requests.onForwardReply(forwardId, from);
  }

  // ------------------------------------------------------------ rounds

  /** Run rounds until nothing is gathered; with workers this returns while a round is out. */
  private run(): void {
    if (this.busy) return; // The running loop picks up what was just gathered.
    this.busy = true;
    try {
      for (;;) {
        this.outbox.drain();
        const budget = this.outbox.readyBudget(this.requests.waiters(this.next));
        if (!this.hasWork(budget)) break;
        const round = this.next;
        this.next = new RoundBuilder();
        const waits = this.admin.pending();
        const output = this.core.round(round.input(this.core.group, waits, budget));
        if (output instanceof Promise) {
          this.inflight = output
            .then((result) => {
              this.absorb(round, waits, result);
              this.inflight = null;
              this.busy = false;
              this.run();
            })
            .catch((error: unknown) => this.fatal(error));
          return; // busy stays set until the worker answers and its output is absorbed.
        }
        this.absorb(round, waits, output);
      }
    } catch (error) {
      this.fatal(error);
    }
    this.busy = false;
  }

  private hasWork(budget: number): boolean {
    if (this.stopped) return false;
    return (
      !this.next.isEmpty() ||
      this.next.batchesDone.length > 0 ||
      (budget > 0 && this.core.hasReady())
    );
  }

  private absorb(round: RoundBuilder, waits: readonly AdminWait[], output: RoundOutput): void {
    this.stats.rounds++;
    if (output.compacted !== null) {
      const { meta } = output.compacted;
      const status = this.core.status();
      this.log.info(
        { group: this.core.group, term: status.term, index: meta.index, bytes: meta.size },
        "snapshot taken, log compacted",
      );
    }
    round.answer(output, (item, result) => this.requests.proposed(item, result));
    this.admin.settle(waits, output.conditions);
    this.events.noteLostEntries();
    for (const ready of output.readies) this.outbox.push({ kind: "ready", ready });
    this.outbox.drain();
    for (const done of round.batchesDone) done();
  }

  /** Nothing gathered, no round out, nothing waiting for room: for a drain at shutdown. */
  async settled(): Promise<void> {
    await this.stage.idle();
    while (this.inflight !== null) await this.inflight;
  }

  kick(): void {
    this.run();
  }

  onPersisted(ready: Ready): void {
    try {
      this.fanout.persisted(ready);
    } catch (error) {
      this.fatal(error);
    }
    this.next.persisted++;
    this.run();
  }

  onApplied(index: number): void {
    this.leaseExpiry.applied(index);
    this.next.appliedTo = Math.max(this.next.appliedTo, index);
    this.run();
  }

  compact(index: number, size: number): Promise<{ meta: SnapshotMeta; retainFrom: number }> {
    return new Promise((resolve) => {
      if (this.next.compact !== null) throw new Error("a compaction is already on its way");
      this.next.compact = { index, size, resolve };
      this.run();
    });
  }
}
