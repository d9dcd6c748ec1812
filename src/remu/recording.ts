import type { NodeId } from "../../raft/mod.js";
import type { NodeSnapshot, NoteKind, RecordedMessage, Recorder, StepKind } from "./recorder.js";

// The recording (JSON): what the recorder holds, in the compact form the web view embeds.

/** The compact JSON form of a recorded run, embedded in the web view. */
export interface Recording {
  readonly format: "remu-recording/1";
  readonly meta: RecordingMeta;
  /** Node ids; a step's state entries refer to nodes by position in this list. */
  readonly nodes: readonly NodeId[];
  /** Steps recorded in all; `steps` holds the last ones, from global index `first`. */
  readonly total: number;
  readonly first: number;
  readonly capacity: number;
  /** Global index of the step that failed, or null. */
  readonly failStep: number | null;
  /** [id, type, from, to, fields, refused 0/1, sentStep (-1: unknown), dropped 0/1, copies]. */
  readonly messages: readonly RecordingMessage[];
  readonly steps: readonly RecordingStep[];
}

export interface RecordingMeta {
  readonly title: string;
  readonly ok: boolean | null;
  readonly exitCode: number | null;
  readonly failure: string | null;
  readonly parameters: Record<string, unknown>;
  readonly summary: Record<string, unknown>;
}

export type RecordingMessage = [
  id: number,
  type: string,
  from: NodeId,
  to: NodeId,
  fields: string,
  refused: 0 | 1,
  sentStep: number,
  dropped: 0 | 1,
  copies: number,
];

/** Node state: [node position, up 0/1, role, term, leader ("" none), commit, applied, lastIndex, chk]. */
export type RecordingState = [
  node: number,
  up: 0 | 1,
  role: string,
  term: number,
  leader: string,
  commit: number,
  applied: number,
  lastIndex: number,
  chk: number,
];

export interface RecordingStep {
  /** Virtual time, ms (0.1 ms resolution). */
  readonly t: number;
  readonly k: StepKind;
  /** Cluster events processed after this step. */
  readonly e: number;
  readonly d: string;
  readonly n?: NodeId;
  /** Ids of messages sent. */
  readonly s?: number[];
  /** Message delivered: [id, 1 arrived | 0 lost at delivery]. */
  readonly r?: [number, 0 | 1];
  /** Notes: [kind, node ("" none), text]. */
  readonly f?: [NoteKind, string, string][];
  /** Node states that changed since the previous step (all of them on the first step). */
  readonly st?: RecordingState[];
  /** The network, when it changed (always on the first step). */
  readonly net?: string;
  readonly err?: string;
}

/** The JSON form of what the recorder holds. */
export function exportRecording(recorder: Recorder, meta: Partial<RecordingMeta> = {}): Recording {
  const steps = recorder.steps();
  const nodeIds = new Map<NodeId, number>();
  for (const step of steps) {
    for (const node of step.state) if (!nodeIds.has(node.id)) nodeIds.set(node.id, nodeIds.size);
  }
  const messages = new Map<number, RecordingMessage>();
  const addMessage = (m: RecordedMessage) => {
    if (messages.has(m.id)) return;
    messages.set(m.id, [
      m.id,
      m.type,
      m.from,
      m.to,
      m.fields,
      m.refused ? 1 : 0,
      m.sentStep,
      m.dropped ? 1 : 0,
      m.copies,
    ]);
  };
  const out: RecordingStep[] = [];
  let previous: readonly NodeSnapshot[] = [];
  let network: string | null = null;
  for (const step of steps) {
    const row: {
      -readonly [K in keyof RecordingStep]: RecordingStep[K];
    } = { t: Math.round(step.time * 10) / 10, k: step.kind, e: step.event, d: step.label };
    if (step.node !== null) row.n = step.node;
    if (step.sent.length > 0) {
      for (const m of step.sent) addMessage(m);
      row.s = step.sent.map((m) => m.id);
    }
    if (step.delivery !== null) {
      addMessage(step.delivery.message);
      row.r = [step.delivery.message.id, step.delivery.delivered ? 1 : 0];
    }
    if (step.notes.length > 0) row.f = step.notes.map((n) => [n.kind, n.node ?? "", n.text]);
    if (step.state !== previous) {
      const changed: RecordingState[] = [];
      for (const node of step.state) {
        const before = previous.find((p) => p.id === node.id);
        if (before === node) continue;
        changed.push([
          nodeIds.get(node.id)!,
          node.up ? 1 : 0,
          node.role,
          node.term,
          node.leader ?? "",
          node.commit,
          node.applied,
          node.lastIndex,
          node.chk,
        ]);
      }
      if (changed.length > 0) row.st = changed;
      previous = step.state;
    }
    if (step.network !== network) {
      row.net = step.network;
      network = step.network;
    }
    if (step.error !== null) row.err = step.error;
    out.push(row);
  }
  return {
    format: "remu-recording/1",
    meta: {
      title: meta.title ?? "remu run",
      ok: meta.ok ?? null,
      exitCode: meta.exitCode ?? null,
      failure: meta.failure ?? null,
      parameters: meta.parameters ?? {},
      summary: meta.summary ?? {},
    },
    nodes: [...nodeIds.keys()],
    total: recorder.total,
    first: recorder.total - steps.length,
    capacity: recorder.capacity,
    failStep: recorder.failStep,
    messages: [...messages.values()].sort((a, b) => a[0] - b[0]),
    steps: out,
  };
}
