import type {
  KvCommand,
  KvReadResult,
  KvResult,
  TxnError,
  TxnOp,
} from "../../storage/engines/engine.js";
import type { KeyValue } from "../../storage/engines/revisions.js";
import type { ReplyBody } from "../items.js";
import { ErrorCode } from "../protocol.js";

/**
 * KV results as the client protocol answers them (CONTRACT §3 and §5): the fields a result
 * had before revisions stay, `revision` (and `index`, the same number) is added to every one.
 */

type Fields = Record<string, unknown>;

export function fail(code: ErrorCode, message: string): ReplyBody {
  return { ok: false, error: { code, message } };
}

/** A key's metadata; a scan item without its value when keysOnly. */
function item(kv: KeyValue, keysOnly = false): Fields {
  const { value, ...meta } = kv;
  return keysOnly ? meta : { ...meta, value };
}

function getFields(kv: KeyValue | null): Fields {
  return {
    found: kv !== null,
    value: kv?.value ?? null,
    createRevision: kv?.createRevision ?? 0,
    modRevision: kv?.modRevision ?? 0,
    version: kv?.version ?? 0,
    lease: kv?.lease ?? null,
  };
}

/**
 * The result fields of one op; null for an incr of a non-integer (a BAD_REQUEST). A txn's
 * op results carry the txn's `index`/`revision` as the same ops alone would.
 */
function fields(result: KvResult, command: KvCommand | TxnOp, index: number): Fields | null {
  switch (result.op) {
    case "put":
      if ("error" in result) return null;
      return "prevKv" in result ? { prevKv: result.prevKv ? item(result.prevKv) : null } : {};
    case "delete":
    case "deleteRange":
      return {
        deleted: result.deleted,
        ...(result.prevKvs ? { prevKvs: result.prevKvs.map((kv) => item(kv)) } : {}),
      };
    case "cas":
      return { succeeded: result.succeeded, value: result.value };
    case "incr":
      return "error" in result ? null : { value: result.value };
    case "get":
      return getFields(result.kv);
    case "scan": {
      const keysOnly = command.op === "scan" && command.keysOnly === true;
      return {
        items: result.items.map((kv) => item(kv, keysOnly)),
        more: result.more,
        count: result.count,
      };
    }
    case "txn": {
      if (command.op !== "txn") throw new Error("a txn result answers a txn");
      if ("error" in result) return null;
      const ops = result.succeeded ? command.success : command.failure;
      const results = result.results.map((r, k) => ({
        index,
        revision: index,
        ...fields(r, ops[k]!, index),
      }));
      return { succeeded: result.succeeded, results };
    }
    case "compact":
      return { revision: result.revision };
  }
}

/** The answer to an applied KV command, at revision `index` (its entry's index). */
export function kvReply(result: KvResult, index: number, command: KvCommand): ReplyBody {
  if (result.op === "compact" && "error" in result)
    return result.error === "compacted"
      ? fail(
          ErrorCode.compacted,
          `revision ${(command as { revision: number }).revision} is compacted; the oldest kept revision is ${result.revision}`,
        )
      : fail(ErrorCode.badRequest, `"revision" is past the current revision ${result.revision}`);
  if ((result.op === "txn" || result.op === "put") && "error" in result) return txnFailure(result);
  const body = fields(result, command, index);
  if (body === null) {
    const value = (result as { value: string }).value;
    return fail(
      ErrorCode.badRequest,
      `incr: the value ${JSON.stringify(value.slice(0, 64))} is not an integer`,
    );
  }
  // compact answers the revision it compacted at; every other op the revision of its entry.
  return { ok: true, result: { index, revision: index, ...body } };
}

/** Why a txn (or a put keeping its key's value or lease) did nothing (CONTRACT §5, added). */
function txnFailure(error: TxnError): ReplyBody {
  switch (error.error) {
    case "key-not-found":
      return fail(
        ErrorCode.badRequest,
        `ignoreValue/ignoreLease: the key ${JSON.stringify(error.key.slice(0, 64))} is not found`,
      );
    case "compacted":
      return fail(
        ErrorCode.compacted,
        `revision ${error.revision} is compacted; the oldest kept revision is ${error.compactedRevision}`,
      );
    case "future":
      return fail(
        ErrorCode.badRequest,
        `"revision" ${error.revision} inside the txn is past the current revision ${error.currentRevision}`,
      );
  }
}

/** The answer to a get or scan served at `appliedIndex` (or at its `revision`). */
export function readReply(
  read: KvReadResult,
  appliedIndex: number,
  request: { revision?: number; keysOnly?: boolean },
): ReplyBody {
  if (!read.ok)
    return read.error === "compacted"
      ? fail(
          ErrorCode.compacted,
          `revision ${request.revision} is compacted; the oldest kept revision is ${read.compactedRevision}`,
        )
      : fail(
          ErrorCode.badRequest,
          `"revision" ${request.revision} is past this node's applied revision ${read.appliedIndex}`,
        );
  const revision = request.revision ?? appliedIndex;
  const command = { op: "scan", range: {}, limit: 0, keysOnly: request.keysOnly } as const;
  const body = fields(read.result, command, appliedIndex);
  return { ok: true, result: { ...body, index: appliedIndex, revision } };
}
