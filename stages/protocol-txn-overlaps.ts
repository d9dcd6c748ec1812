/**
 * etcd's rule against a txn writing one key twice (api/v3rpc/key.go checkIntervals, 3.4 and
 * 3.5), nested txns included: within a branch, no key is put twice, and no key is both put
 * and deleted, where a nested txn's puts and deletes count as its parent's (its two branches
 * may put the same key: only one runs). As etcd, deletes of one key twice are allowed, and so
 * is a put in a nested txn followed by a delete of it in a later sibling.
 */
import { inRange, type KeySpan } from "../storage/engines/engine.js";
import { ErrorCode, type TxnRequestOp } from "./protocol.js";
import { Invalid } from "./protocol-fields.js";

type Deleted = { readonly key: string } | KeySpan;

interface Writes {
  readonly puts: Set<string>;
  readonly deletes: Deleted[];
}

/** BAD_REQUEST naming the branch and the key when `ops` write a key twice. */
export function checkOverlaps(name: string, ops: readonly TxnRequestOp[]): void {
  writesOf(name, ops);
}

function writesOf(name: string, ops: readonly TxnRequestOp[]): Writes {
  // This level's deletes first: they conflict with the puts of nested txns too.
  const deletes: Deleted[] = [];
  for (const op of ops) if (op.op === "delete") deletes.push(op);
  const puts = new Set<string>();
  const add = (key: string, safe: boolean) => {
    if (puts.has(key) && !safe) throw duplicate(name, key, "put twice");
    if (deletes.some((d) => ("key" in d ? d.key === key : inRange(key, d))))
      throw duplicate(name, key, "both put and deleted");
    puts.add(key);
  };
  for (const op of ops) {
    if (op.op !== "txn") continue;
    const then = writesOf(name, op.success);
    const otherwise = writesOf(name, op.failure);
    for (const key of then.puts) add(key, false);
    for (const key of otherwise.puts) add(key, then.puts.has(key));
    deletes.push(...then.deletes, ...otherwise.deletes);
  }
  for (const op of ops) if (op.op === "put") add(op.key, false);
  return { puts, deletes };
}

function duplicate(name: string, key: string, what: string): Invalid {
  return new Invalid(ErrorCode.badRequest, `"${name}": the key ${quote(key)} is ${what}`);
}

function quote(key: string): string {
  return JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}…` : key);
}
