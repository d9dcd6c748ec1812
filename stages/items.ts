import type { Entry, Message, NodeId, Ready, SnapshotMeta } from "../raft/types.js";
import type { LeaseJudge } from "./apply/lease-commands.js";
import type { ClientRequest, ErrorBody, RequestId, WatchRequest } from "./protocol.js";
import type { RemovalPeers } from "./raft-step/removal.js";

/**
 * What flows between the stages, and the small ports through which a stage reaches the next
 * one. Stages are wired by stages/pipeline.ts; no stage module imports another.
 */

/**
 * A table of requests waiting inside a stage (reads for their read index or their applied
 * index, forwards for the leader's answer, writes for their entry) holds at most this many: the
 * admission limiter's ceiling (pipeline.ts). A request beyond it is answered OVERLOADED.
 */
export const requestsWaitingMax = 65_536;

/** Where an answer goes: a local WebSocket connection, or back to the follower that forwarded. */
export type ReplyTarget =
  | LocalReplyTarget
  | {
      readonly kind: "remote";
      readonly node: NodeId;
      readonly forwardId: number;
      readonly id: RequestId;
    };

/** `op` and `receivedMs` (performance.now() at ingress) time the request for /metrics. */
export interface LocalReplyTarget {
  readonly kind: "local";
  readonly connId: number;
  readonly id: RequestId;
  readonly op?: string;
  readonly receivedMs?: number;
}

export type ReplyBody =
  | { readonly ok: true; readonly result: Record<string, unknown> }
  | { readonly ok: false; readonly error: ErrorBody };

export interface Reply {
  readonly target: ReplyTarget;
  readonly body: ReplyBody;
}

/**
 * A reply in respond's queue, with the bytes it was counted for in its connection's
 * queuedReplyBytes when it was queued (0: no local connection was counted). Taken off once,
 * when it is written or fails: the estimate is computed only once per reply.
 */
export interface QueuedReply extends Reply {
  readonly bytesEstimate: number;
  /** A pushed frame (RespondPort.push): written as body.result alone, answers no request. */
  readonly push?: boolean;
}

export interface ClientItem {
  readonly kind: "client";
  readonly target: ReplyTarget;
  readonly request: ClientRequest;
  /** The connection may use admin ops (admin token, or auth off). */
  readonly admin: boolean;
  /** Epoch ms after which the answer is TIMEOUT. */
  readonly deadline: number;
}

export interface PeerItem {
  readonly kind: "peer";
  readonly messages: Message[];
}

export type RaftStepItem = ClientItem | PeerItem;

/** The apply stage's inputs, processed strictly in order. */
export type ApplyItem =
  | { readonly kind: "committed"; readonly entries: readonly Entry[] }
  /** A proposal awaiting its entry: answered when (index, term) applies. */
  | {
      readonly kind: "wait";
      readonly index: number;
      readonly term: number;
      readonly target: ReplyTarget;
      readonly request: ClientRequest;
      readonly deadline: number;
    }
  /** A read, served once appliedIndex >= index (0 for a stale read). */
  | {
      readonly kind: "read";
      readonly index: number;
      readonly target: ReplyTarget;
      readonly request: ClientRequest;
      readonly deadline: number;
    }
  /** raft-step's lease expiry asks which leases are due (raft-step/lease-expiry.ts). */
  | {
      readonly kind: "lease-due";
      readonly query: LeaseJudge;
      readonly resolve: (ids: readonly string[]) => void;
    }
  /** An InstallSnapshot finished: replace the engine's state. */
  | { readonly kind: "restore"; readonly meta: SnapshotMeta; readonly path: string }
  | WatchItem;

/**
 * Watch requests and the end of a connection, handed by ingress straight to apply (not through
 * Raft): in order with the applied entries, so a watch starts exactly after what was applied.
 */
export type WatchItem =
  | {
      readonly kind: "watch";
      readonly connId: number;
      readonly id: RequestId;
      readonly request: WatchRequest | { readonly op: "cancel-watch"; readonly watch: number };
    }
  | { readonly kind: "watch-closed"; readonly connId: number };

export type WalItem =
  | { readonly kind: "ready"; readonly ready: Ready }
  | { readonly kind: "compact"; readonly meta: SnapshotMeta; readonly upTo: number };

export interface RaftStepPort {
  offer(item: RaftStepItem): boolean;
  /** The WAL made `ready` durable. */
  onPersisted(ready: Ready): void;
  onApplied(index: number): void;
  /** The apply stage snapshotted its state up to `index`: compact the core's log. */
  compact(index: number, size: number): Promise<{ meta: SnapshotMeta; retainFrom: number }>;
  /** Room appeared downstream: take the next Ready. */
  kick(): void;
}

export interface QueuePort<T> {
  offer(item: T): boolean;
  hasRoom(items: number, bytes: number): boolean;
}

/** apply's queue, and the room its table of write waiters has (apply.ts; absent: no limit). */
export interface ApplyQueuePort extends QueuePort<ApplyItem> {
  waitersRoom?(items: number): boolean;
}

export interface ReplicatePort extends RemovalPeers {
  send(messages: readonly Message[]): void;
  /** Ship a client request to the leader; false if the link is not up. */
  forward(
    to: NodeId,
    forwardId: number,
    id: RequestId,
    request: ClientRequest,
    admin: boolean,
  ): boolean;
  addPeer(name: NodeId, address: string): void;
  /** Return a forwarded request's answer to the follower that sent it. */
  forwardReply(to: NodeId, forwardId: number, text: string): void;
}

/** Whether a reply can still go to its target: "full" when its client stopped reading. */
export type ReplyRoom = "open" | "full" | "gone";

export interface RespondPort {
  reply(reply: Reply): void;
  /** A frame the server pushes on a local connection (a watch's events), not a reply. */
  push?(connId: number, frame: Record<string, unknown>, bytes?: number): void;
  /** Checked before costly work (reads) is done for a target; absent: always "open". */
  room?(target: ReplyTarget): ReplyRoom;
}

/** Where a fatal error struck, for the log line of the one fatal path. */
export interface FatalContext {
  /** The stage that cannot go on. */
  readonly stage: "raft-step" | "wal-append" | "apply";
  /** What failed, as logged. */
  readonly message: string;
  /** The log index concerned, when the stage knows one (else the node's applied index). */
  readonly index?: number;
}

/**
 * The one fatal path, handed in by src/node.ts: a storage failure or a broken invariant that
 * nothing sound can follow. It logs the error (node, group, term, index) and exits 70; it
 * never returns.
 */
export type Fatal = (error: unknown, context: FatalContext) => never;
