import { historySize } from "./kv-stored.js";
import type { KvChanges } from "./revisions.js";

/** What the history bound needs of one kept revision: no keys, no values. */
export interface KeptSummary {
  readonly revision: number;
  /** historySize() of its changes. */
  readonly size: number;
  /** Its event records (what the backend deletes when it is forgotten). */
  readonly events: number;
}

export function summarize(changes: KvChanges): KeptSummary {
  return { revision: changes.revision, size: historySize(changes), events: changes.events.length };
}

/**
 * The kept history's revisions in order, with their sizes, kept in memory so that enforcing
 * history.keepRevisions / keepBytes after each batch does not read the stored history (it
 * did, values and all, once the bound was reached: every batch). Built from the stored
 * history the first time the bound forgets something; a few dozen bytes per kept revision.
 */
export class KeptIndex {
  private items: KeptSummary[] = [];
  private head = 0;

  static async build(stored: AsyncIterable<KvChanges> | Iterable<KvChanges>): Promise<KeptIndex> {
    const index = new KeptIndex();
    for await (const changes of stored) index.items.push(summarize(changes));
    return index;
  }

  /** Oldest first. */
  *oldest(): Generator<KeptSummary> {
    for (let at = this.head; at < this.items.length; at++) yield this.items[at]!;
  }

  /** Forget the `count` oldest, then add the batch's kept changes. */
  advance(count: number, kept: readonly KeptSummary[]): void {
    this.head += count;
    for (const summary of kept) this.items.push(summary);
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
