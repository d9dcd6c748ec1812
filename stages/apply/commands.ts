import { Packr } from "msgpackr";
import type { KvCommand } from "../../storage/engines/engine.js";
import type { VectorCommand } from "../../storage/engines/vector-store.js";

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

type MetaPairs = [string, string | number | boolean | null][];

/**
 * msgpackr unpacks a "__proto__" map key as "__proto_" (to keep it off the prototype chain),
 * which would rename a client's meta field on every replica. A vput's meta therefore travels
 * as [name, value] pairs and is rebuilt by Object.fromEntries, which defines each name as an
 * own field (no prototype setter runs). Entries written before carry `meta` and still decode.
 */
export function encodeCommand(command: LogCommand): Uint8Array {
  const vec = command.vec;
  if (vec?.op !== "vput" || vec.meta === undefined) return packr.pack(command);
  const { meta, ...rest } = vec;
  const metaPairs: MetaPairs = Object.entries(meta);
  return packr.pack({ ...command, vec: { ...rest, metaPairs } });
}

export function decodeCommand(data: Uint8Array): LogCommand {
  const command = packr.unpack(data) as LogCommand & { vec?: { metaPairs?: MetaPairs } };
  const vec = command.vec;
  if (vec === undefined || vec.metaPairs === undefined) return command;
  const { metaPairs, ...rest } = vec;
  return { ...command, vec: { ...rest, meta: Object.fromEntries(metaPairs) } as VectorCommand };
}
