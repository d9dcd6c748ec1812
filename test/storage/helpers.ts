/** Shared helpers for the storage tests: temp dirs, checksum-chained entries, snapshot metas. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chainChecksum } from "../../raft/checksum.js";
import { type Entry, EntryType, type SnapshotMeta } from "../../raft/types.js";

const encoder = new TextEncoder();

export const bytes = (text: string): Uint8Array => encoder.encode(text);

/** Temp dirs made by a test; remove them all in afterEach. */
export class TempDirs {
  private readonly dirs: string[] = [];

  async make(label: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), `stageraft-${label}-`));
    this.dirs.push(dir);
    return dir;
  }

  async removeAll(): Promise<void> {
    for (const dir of this.dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Entries (prev.index, prev.index + terms.length], linked into the history checksum chain
 * from `prev` (index 0 and chk 0 for the start of the log). `tag` makes the data of two
 * histories differ even at equal terms.
 */
export function chain(
  prev: { readonly index: number; readonly chk: number },
  terms: readonly number[],
  tag = "x",
): Entry[] {
  const out: Entry[] = [];
  let previous = prev;
  terms.forEach((term, k) => {
    const index = prev.index + 1 + k;
    const type = index % 7 === 3 ? EntryType.config : EntryType.normal;
    // Every fifth entry is a no-op (empty data), as a new leader's first entry is.
    const data = index % 5 === 0 ? new Uint8Array(0) : bytes(`${tag}-${index}-t${term}-ü😀`);
    const chk = chainChecksum(previous.chk, term, index, type, data);
    const entry: Entry = { term, index, type, data, chk };
    out.push(entry);
    previous = entry;
  });
  return out;
}

/** The last link of a list of entries, for chaining more after it. */
export function tip(entries: readonly Entry[]): { index: number; chk: number } {
  const last = entries.at(-1);
  if (last === undefined) throw new Error("tip of an empty list");
  return { index: last.index, chk: last.chk };
}

/** Is `entries` one contiguous, correctly linked piece of the chain after `prev`? */
export function isValidChain(
  prev: { readonly index: number; readonly chk: number },
  entries: readonly Entry[],
): boolean {
  let previous = prev;
  for (const entry of entries) {
    if (entry.index !== previous.index + 1) return false;
    if (chainChecksum(previous.chk, entry.term, entry.index, entry.type, entry.data) !== entry.chk)
      return false;
    previous = entry;
  }
  return true;
}

export function snapshotMeta(
  index: number,
  term: number,
  chk: number,
  size = 0,
  voters: readonly string[] = ["n1", "n2", "n3"],
): SnapshotMeta {
  return { index, term, chk, size, config: { voters, outgoing: [], learners: ["n4"] } };
}

/** Entries as plain data (data as number arrays), for readable deep equality. */
export function plain(entries: readonly Entry[]): unknown[] {
  return entries.map((e) => ({ ...e, data: Array.from(e.data) }));
}
