import { createHash } from "node:crypto";
import { EtcdError } from "./errors.js";

/**
 * etcd's keys and values are bytes; stageraft's are UTF-8 strings (docs/protocol.md). Bytes
 * that are not valid UTF-8 are refused rather than mangled.
 */
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export function text(bytes: Buffer | Uint8Array | undefined, field: string): string {
  if (bytes === undefined || bytes.length === 0) return "";
  try {
    return strict.decode(bytes);
  } catch {
    throw EtcdError.invalid(
      `${field} is not valid UTF-8: stageraft keys and values are UTF-8 strings`,
    );
  }
}

export function bytes(value: string): Buffer {
  return Buffer.from(value, "utf8");
}

/** The key span of etcd's [key, range_end): one key, a prefix, from a key, or all keys. */
export type Span =
  | { readonly key: string }
  | { readonly prefix: string }
  | { readonly start: string; readonly end?: string };

export function spanOf(keyBytes: Buffer, rangeEndBytes: Buffer): Span {
  const rangeEnd = rangeEndBytes ?? Buffer.alloc(0);
  if (rangeEnd.length === 0) {
    if (keyBytes.length === 0) throw EtcdError.emptyKey();
    return { key: text(keyBytes, "key") };
  }
  const allFrom = rangeEnd.length === 1 && rangeEnd[0] === 0;
  if (allFrom && (keyBytes.length === 0 || (keyBytes.length === 1 && keyBytes[0] === 0)))
    return { prefix: "" };
  if (keyBytes.length === 0) throw EtcdError.emptyKey();
  const key = text(keyBytes, "key");
  if (allFrom) return { start: key };
  const end = prefixEnd(keyBytes);
  if (end?.equals(rangeEnd)) return { prefix: key };
  return { start: key, end: text(rangeEnd, "range_end") };
}

/** etcd's GetPrefixRangeEnd: the key with its last byte below 0xff incremented; null: none. */
function prefixEnd(key: Buffer): Buffer | null {
  for (let i = key.length - 1; i >= 0; i--) {
    if (key[i]! < 0xff) {
      const end = Buffer.from(key.subarray(0, i + 1));
      end[i] = key[i]! + 1;
      return end;
    }
  }
  return null;
}

/** etcd member ids are uint64; stageraft members have names. A stable id per name. */
export function memberId(name: string): string {
  return createHash("sha256").update(name).digest().readBigUInt64BE(0).toString();
}

/** An int64 field as proto-loader hands it (a decimal string with longs: String). */
export function int(value: unknown): number {
  const n = Number(value ?? 0);
  if (!Number.isSafeInteger(n))
    throw EtcdError.invalid(`${String(value)} is beyond the integers stageraft keeps`);
  return n;
}
