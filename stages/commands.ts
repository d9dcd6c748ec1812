import { Packr } from "msgpackr";
import type { KvCommand } from "../storage/engines/engine.js";
import type { VectorCommand } from "../storage/engines/vector-store.js";

/**
 * What a normal log entry carries: a state machine command, with the client session that
 * makes it exactly-once when one is given. Encoded with msgpackr; entries with empty data are
 * the leader's no-ops.
 */
export interface LogCommand {
  readonly kv?: KvCommand;
  readonly vec?: VectorCommand;
  /** Snapshot here: every replica snapshots at the same log index (see ApplyStage). */
  readonly snapshot?: true;
  readonly session?: { readonly id: string; readonly seq: number };
  /** The leader's clock at proposal: the only time the replicated state machine sees. */
  readonly ts: number;
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

export function encodeCommand(command: LogCommand): Uint8Array {
  return packr.pack(command);
}

export function decodeCommand(data: Uint8Array): LogCommand {
  return packr.unpack(data) as LogCommand;
}
