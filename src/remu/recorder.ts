import type { Message, NodeId } from "../../raft/mod.js";
import { messageFields, refused } from "./message-fields.js";
import type { SimNode } from "./sim-node.js";

export { messageFields } from "./message-fields.js";
export type {
  Recording,
  RecordingMessage,
  RecordingMeta,
  RecordingState,
  RecordingStep,
} from "./recording.js";
export { exportRecording } from "./recording.js";

/** One node's state after a step: the columns of the web view's state table. */
export interface NodeSnapshot {
  readonly id: NodeId;
  readonly up: boolean;
  /** The node's role, or "down" while it is crashed. */
  readonly role: string;
  readonly term: number;
  readonly leader: NodeId | null;
  readonly commit: number;
  readonly applied: number;
  /** Last index of the log. */
  readonly lastIndex: number;
  /** Chain checksum of the state machine at `applied`. */
  readonly chk: number;
}

/** A message as sent: its key fields pre-formatted. */
export interface RecordedMessage {
  readonly id: number;
  readonly type: string;
  readonly from: NodeId;
  readonly to: NodeId;
  /** Key fields, e.g. "t3 prev (4,t2) [5..6] commit 4". */
  readonly fields: string;
  /** A refusal: a vote not granted, an append or snapshot rejected, a read index failed. */
  readonly refused: boolean;
  /** Global index of the step that sent it. */
  readonly sentStep: number;
  /** Lost when sent (link down or the network dropped it): it is never delivered. */
  readonly dropped: boolean;
  /** Copies the network will deliver (2 when duplicated). */
  readonly copies: number;
}

export type NoteKind =
  | "start"
  | "crash"
  | "isolate"
  | "reconnect"
  | "partition"
  | "cut"
  | "heal"
  | "role"
  | "snapshot"
  | "install"
  | "propose"
  | "config"
  | "transfer"
  /** The run's phases (run.ts): where the liveness phase begins. */
  | "phase";

/** Something that happened during a step besides messages: a fault, a role change, a client call. */
export interface Note {
  readonly kind: NoteKind;
  readonly node: NodeId | null;
  readonly text: string;
}

export type StepKind = "tick" | "deliver" | "persist" | "call" | "external";

/** One event of the cluster, with everything it did and the state it left. */
export interface RecordedStep {
  /** Global index: steps are numbered from 0 in the order they happened. */
  readonly index: number;
  /** Cluster events processed once this step is done (cluster.stats.events). */
  event: number;
  readonly time: number;
  /** "external" groups calls made from outside the event loop (construction, a test's calls). */
  readonly kind: StepKind;
  readonly label: string;
  readonly node: NodeId | null;
  readonly sent: RecordedMessage[];
  /** The message this step delivered (kind "deliver"), and whether it arrived. */
  delivery: { readonly message: RecordedMessage; readonly delivered: boolean } | null;
  readonly notes: Note[];
  /** Every node's state after the step, in node order (unchanged entries are shared objects). */
  state: readonly NodeSnapshot[];
  /** The network's partitions after the step, as VirtualNetwork.describe() says. */
  network: string;
  /** The error this step threw (an invariant violation, an assertion...). */
  error: string | null;
}

export interface RecorderOptions {
  /** Keep at most this many steps, the last ones (default 20 000). */
  readonly capacity?: number;
}

/** What the recorder needs of the cluster. */
export interface RecorderHost {
  readonly now: number;
  readonly nodes: ReadonlyMap<NodeId, SimNode>;
  readonly stats: { readonly events: number };
  readonly network: { describe(): string };
}

/**
 * Records a cluster's run step by step for the web view: each event's messages, faults and the
 * state of every node after it. Bounded: a ring of the last `capacity` steps. The cluster only
 * calls it when recording is on, so it costs nothing otherwise.
 */
export class Recorder {
  readonly capacity: number;
  private readonly ring: (RecordedStep | undefined)[];
  private head = 0;
  private count = 0;
  private nextIndex = 0;
  private nextMessageId = 0;
  private open: RecordedStep | null = null;
  private lastState: readonly NodeSnapshot[] = [];
  private network = "no partition";
  private readonly sentBy = new WeakMap<Message, RecordedMessage>();
  /** Global index of the first step that threw, if any. */
  failStep: number | null = null;

  constructor(
    private readonly host: RecorderHost,
    options: RecorderOptions = {},
  ) {
    this.capacity = Math.max(1, Math.floor(options.capacity ?? 20_000));
    this.ring = new Array<RecordedStep | undefined>(this.capacity);
  }

  /** Steps recorded in all, including those the ring no longer holds. */
  get total(): number {
    return this.nextIndex;
  }

  /** The steps held, oldest first (an open step is closed first). */
  steps(): RecordedStep[] {
    this.flush();
    const out: RecordedStep[] = [];
    for (let k = 0; k < this.count; k++) out.push(this.ring[(this.head + k) % this.capacity]!);
    return out;
  }

  /** The step with this global index, if still held. */
  at(index: number): RecordedStep | undefined {
    this.flush();
    const first = this.nextIndex - this.count;
    if (index < first || index >= this.nextIndex) return undefined;
    return this.ring[(this.head + index - first) % this.capacity];
  }

  // ---------------------------------------------------------------- called by the cluster

  /** An event begins. */
  begin(kind: StepKind, label: string, node: NodeId | null): void {
    if (this.open !== null) this.end();
    this.open = this.newStep(kind, label, node);
  }

  /** The event is done: take the state it left. */
  end(): void {
    const step = this.open;
    if (step === null) return;
    this.open = null;
    this.close(step);
  }

  /** The event threw: close it with the error. */
  endWithError(error: unknown): void {
    const step = this.open ?? this.newStep("external", "error", null);
    this.open = null;
    step.error = describeError(error);
    if (this.failStep === null) this.failStep = step.index;
    this.close(step);
  }

  /** The run failed (the error may have come from outside an event): mark the step it ended on. */
  markFailure(text: string): void {
    this.flush();
    if (this.failStep !== null) return;
    const last = this.count > 0 ? this.at(this.nextIndex - 1) : undefined;
    if (last === undefined) return;
    last.error ??= text;
    this.failStep = last.index;
  }

  note(kind: NoteKind, node: NodeId | null, text: string): void {
    const step = this.current();
    step.notes.push({ kind, node, text });
    if (
      kind === "partition" ||
      kind === "cut" ||
      kind === "heal" ||
      kind === "isolate" ||
      kind === "reconnect"
    ) {
      this.network = this.host.network.describe();
    }
  }

  /** A message was handed to the network: `copies` deliveries were scheduled (0: lost). */
  sent(message: Message, copies: number): void {
    const step = this.current();
    const recorded: RecordedMessage = {
      id: this.nextMessageId++,
      type: message.type,
      from: message.from,
      to: message.to,
      fields: messageFields(message),
      refused: refused(message),
      sentStep: step.index,
      dropped: copies === 0,
      copies,
    };
    step.sent.push(recorded);
    if (copies > 0) this.sentBy.set(message, recorded);
  }

  /** A message reached its destination (or was lost there: link cut or node down meanwhile). */
  delivered(message: Message, delivered: boolean): void {
    const step = this.current();
    const recorded = this.sentBy.get(message) ?? {
      id: this.nextMessageId++,
      type: message.type,
      from: message.from,
      to: message.to,
      fields: messageFields(message),
      refused: refused(message),
      sentStep: -1,
      dropped: false,
      copies: 1,
    };
    step.delivery = { message: recorded, delivered };
  }

  // ---------------------------------------------------------------- internals

  private current(): RecordedStep {
    this.open ??= this.newStep("external", "outside the event loop", null);
    return this.open;
  }

  /** Close a step left open by calls made from outside the event loop. */
  flush(): void {
    if (this.open !== null && this.open.kind === "external") this.end();
  }

  private newStep(kind: StepKind, label: string, node: NodeId | null): RecordedStep {
    return {
      index: this.nextIndex++,
      event: 0,
      time: this.host.now,
      kind,
      label,
      node,
      sent: [],
      delivery: null,
      notes: [],
      state: this.lastState,
      network: this.network,
      error: null,
    };
  }

  private close(step: RecordedStep): void {
    step.event = this.host.stats.events;
    step.state = this.snapshot();
    step.network = this.network;
    this.lastState = step.state;
    if (this.count < this.capacity) {
      this.ring[(this.head + this.count) % this.capacity] = step;
      this.count++;
    } else {
      this.ring[this.head] = step;
      this.head = (this.head + 1) % this.capacity;
    }
  }

  /** Every node's state; entries equal to the previous step's are shared. */
  private snapshot(): readonly NodeSnapshot[] {
    const previous = this.lastState;
    const out: NodeSnapshot[] = [];
    let changed = previous.length !== this.host.nodes.size;
    let k = 0;
    for (const node of this.host.nodes.values()) {
      const now = snapshotNode(node);
      const before = previous[k];
      if (before !== undefined && sameSnapshot(before, now)) out.push(before);
      else {
        out.push(now);
        changed = true;
      }
      k++;
    }
    return changed ? out : previous;
  }
}

/** A node's state now, as the web view's state table shows it. */
export function snapshotNode(node: SimNode): NodeSnapshot {
  const raft = node.raft;
  if (raft === null) {
    const durable = node.durable;
    return {
      id: node.id,
      up: false,
      role: "down",
      term: durable.hardState.term,
      leader: null,
      commit: durable.hardState.commit,
      applied: durable.snapshot?.meta.index ?? 0,
      lastIndex: durable.entriesBase + durable.entries.length,
      chk: durable.snapshot?.meta.chk ?? 0,
    };
  }
  return {
    id: node.id,
    up: true,
    role: raft.status().role,
    term: raft.status().term,
    leader: raft.status().leader,
    commit: raft.status().commitIndex,
    applied: raft.status().appliedIndex,
    lastIndex: raft.log.lastIndex(),
    chk: node.stateMachine.appliedChk,
  };
}

function sameSnapshot(a: NodeSnapshot, b: NodeSnapshot): boolean {
  return (
    a.up === b.up &&
    a.role === b.role &&
    a.term === b.term &&
    a.leader === b.leader &&
    a.commit === b.commit &&
    a.applied === b.applied &&
    a.lastIndex === b.lastIndex &&
    a.chk === b.chk
  );
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
