import { compareKeys, inRange, type KeySpan } from "./engine.js";
import type { KvBackend } from "./kv-backend.js";
import type { KeyValue, KvChanges, KvEvent } from "./revisions.js";

/** One key, or a span of keys. */
export type KeysOf = KeySpan | { readonly key: string };

/**
 * The keys of `span` at a past `revision`: the keys as they are now (`current`, those in the
 * span), each corrected by the earliest change after `revision` (its prevKv is the key's state
 * at `revision`). The changes after it are the backend's kept history, then `later`: changes
 * not yet written (an applying batch's, in order). No per-key index.
 */
export async function keysAt(
  backend: KvBackend,
  revision: number,
  span: KeysOf,
  current: readonly (KeyValue | null)[],
  later: readonly KvChanges[] = [],
): Promise<KeyValue[]> {
  const within = (key: string) => ("key" in span ? key === span.key : inRange(key, span));
  const atRevision = new Map<string, KeyValue | null>();
  const note = (event: KvEvent) => {
    const key = event.kv.key;
    if (within(key) && !atRevision.has(key)) atRevision.set(key, event.prevKv);
  };
  for await (const change of backend.changes(revision + 1)) change.events.forEach(note);
  for (const change of later) if (change.revision > revision) change.events.forEach(note);
  const out = new Map<string, KeyValue>();
  for (const kv of current) if (kv !== null && !atRevision.has(kv.key)) out.set(kv.key, kv);
  for (const [key, kv] of atRevision) if (kv !== null) out.set(key, kv);
  return [...out.values()].sort((a, b) => compareKeys(a.key, b.key));
}
