import { assert } from "./assert.js";
import { chainChecksum } from "./checksum.js";
import type { Entry, EntryType } from "./types.js";

/** The log as the owner may read it: no writes (those go through RaftNode's inputs). */
export type ReadonlyRaftLog = Pick<
  RaftLog,
  | "baseIndex"
  | "firstIndex"
  | "lastIndex"
  | "lastTerm"
  | "lastChk"
  | "term"
  | "chk"
  | "entry"
  | "matchTerm"
  | "slice"
  | "entryBytes"
>;

/**
 * The in-memory log: entries (baseIndex, lastIndex], with the term and checksum of the
 * compacted entry at baseIndex kept so that AppendEntries can still be checked against it.
 * Invariant: entries[k].index === baseIndex + 1 + k.
 */
export class RaftLog {
  private entries: Entry[] = [];
  private base: { index: number; term: number; chk: number };

  constructor(baseIndex = 0, baseTerm = 0, baseChk = 0) {
    this.base = { index: baseIndex, term: baseTerm, chk: baseChk };
  }

  get baseIndex(): number {
    return this.base.index;
  }

  get firstIndex(): number {
    return this.base.index + 1;
  }

  lastIndex(): number {
    return this.base.index + this.entries.length;
  }

  lastTerm(): number {
    return this.entries.at(-1)?.term ?? this.base.term;
  }

  lastChk(): number {
    return this.entries.at(-1)?.chk ?? this.base.chk;
  }

  /** The term at `index`, or undefined when it is compacted away or beyond the log. */
  term(index: number): number | undefined {
    if (index === this.base.index) return this.base.term;
    return this.entry(index)?.term;
  }

  chk(index: number): number | undefined {
    if (index === this.base.index) return this.base.chk;
    return this.entry(index)?.chk;
  }

  entry(index: number): Entry | undefined {
    if (index <= this.base.index) return undefined;
    return this.entries[index - this.base.index - 1];
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** §5.4.1: is a log ending at (lastIndex, lastTerm) at least as up-to-date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** Entries [lo, hi], at most maxBytes of data but always at least one. */
  slice(lo: number, hi: number, maxBytes = Number.POSITIVE_INFINITY): Entry[] {
    assert(lo > this.base.index, `log slice: ${lo} is compacted (base ${this.base.index})`);
    const end = Math.min(hi, this.lastIndex());
    const out: Entry[] = [];
    let bytes = 0;
    for (let index = lo; index <= end; index++) {
      const entry = this.entries[index - this.base.index - 1];
      assert(entry !== undefined, `log slice: missing entry ${index}`);
      bytes += entry.data.length;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(entry);
    }
    return out;
  }

  /** The leader appends a new entry, linking it into the checksum chain. */
  appendNew(term: number, type: EntryType, data: Uint8Array): Entry {
    assert(term >= this.lastTerm(), "log: a new entry's term must not go back");
    const index = this.lastIndex() + 1;
    const entry: Entry = {
      term,
      index,
      type,
      data,
      chk: chainChecksum(this.lastChk(), term, index, type, data),
    };
    this.entries.push(entry);
    return entry;
  }

  /**
   * A follower takes entries from the leader: skips those it already has, truncates at the
   * first conflict and appends the rest. Returns the index of the first entry written (or
   * undefined if nothing changed). Checksums are verified against our own chain.
   */
  appendFromLeader(entries: readonly Entry[]): number | undefined {
    let k = 0;
    for (; k < entries.length; k++) {
      const entry = entries[k]!;
      if (entry.index <= this.base.index) continue;
      const ours = this.term(entry.index);
      if (ours !== entry.term) break;
      assert(this.chk(entry.index) === entry.chk, `log: checksum differs at index ${entry.index}`);
    }
    if (k === entries.length) return undefined;
    const first = entries[k]!;
    assert(first.index > this.base.index, "log: may not overwrite compacted entries");
    assert(first.index <= this.lastIndex() + 1, `log: gap before index ${first.index}`);
    this.entries.length = first.index - this.base.index - 1;
    for (let j = k; j < entries.length; j++) {
      const entry = entries[j]!;
      const expected = chainChecksum(
        this.lastChk(),
        entry.term,
        entry.index,
        entry.type,
        entry.data,
      );
      assert(expected === entry.chk, `log: checksum chain broken at index ${entry.index}`);
      this.entries.push(entry);
    }
    return first.index;
  }

  /** Restore entries read back from storage (already checked by the storage layer). */
  restore(entries: readonly Entry[]): void {
    for (const entry of entries) {
      if (entry.index <= this.base.index) continue;
      assert(entry.index === this.lastIndex() + 1, `log restore: gap at ${entry.index}`);
      this.entries.push(entry);
    }
  }

  /** Drop entries up to `index` (inclusive), remembering its term and checksum. */
  compactTo(index: number): void {
    if (index <= this.base.index) return;
    assert(index <= this.lastIndex(), `log compact: ${index} beyond last ${this.lastIndex()}`);
    const term = this.term(index)!;
    const chk = this.chk(index)!;
    this.entries.splice(0, index - this.base.index);
    this.base = { index, term, chk };
  }

  /** Replace the whole log by a snapshot's point. */
  resetTo(index: number, term: number, chk: number): void {
    this.entries = [];
    this.base = { index, term, chk };
  }

  /**
   * Fast backtracking hint: the largest index <= `index` whose term is <= `term`,
   * with that term. The leader skips a whole term of conflicting entries per round trip.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    let at = Math.min(index, this.lastIndex());
    // Below our compacted base the terms are unknown: no hint beyond the index itself.
    if (at < this.base.index) return { index: at, term: 0 };
    while (at > this.base.index) {
      const ourTerm = this.term(at)!;
      if (ourTerm <= term) return { index: at, term: ourTerm };
      at--;
    }
    return { index: this.base.index, term: this.base.term };
  }

  entryBytes(lo: number, hi: number): number {
    let bytes = 0;
    for (
      let index = Math.max(lo, this.firstIndex);
      index <= Math.min(hi, this.lastIndex());
      index++
    ) {
      bytes += this.entries[index - this.base.index - 1]!.data.length;
    }
    return bytes;
  }
}
