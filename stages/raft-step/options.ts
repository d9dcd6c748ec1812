import type { Clock } from "../../queues/mod.js";
import type { VectorDefaults } from "../apply/commands.js";
import type {
  ApplyQueuePort,
  Fatal,
  QueuePort,
  ReplicatePort,
  RespondPort,
  WalItem,
} from "../items.js";

export interface RaftStepOptions {
  readonly capacityItems: number;
  readonly batchItems: number;
  readonly tickMs: number;
  /** Followers forward writes to the leader; off: NOT_LEADER with the leader's address. */
  readonly forwarding: boolean;
  /** How long member-add / member-remove / transfer-leader may take. */
  readonly adminTimeoutMs: number;
  /** What a vcreate without engine or params gets (resolved here, on the leader). */
  readonly vectorDefaults: VectorDefaults;
  /** The extension a new leader gives leases (lease-expiry.ts); default 10 ticks. */
  readonly electionTimeoutMs?: number;
  /**
   * Readys handed to wal-append and not yet durable, at most (fanout.ts): the pipeline sets it
   * to what wal-append can hold (its queue and one batch); default readiesInWalDefault.
   */
  readonly readiesInWalMax?: number;
}

/** Readys in wal-append at most when RaftStepOptions.readiesInWalMax is not given. */
export const readiesInWalDefault = 4_096;

export interface RaftStepPorts {
  readonly wal: QueuePort<WalItem>;
  readonly apply: ApplyQueuePort;
  readonly replicate: ReplicatePort;
  readonly respond: RespondPort;
  /** This node learned that it was removed from the cluster: the program stops it. */
  readonly removed?: (reason: string) => void;
  /** A broken invariant: stop the node (src/node.ts; exit 70). */
  readonly fatal: Fatal;
  /** Ticks and deadlines (default: the process's clock; remu's virtual one in simulation). */
  readonly clock?: Clock;
}
