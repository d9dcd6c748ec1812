/**
 * What a linearization tells about the revisions of its writes, for the txn model
 * (kv-txn-model.ts). Each log entry of the history that writes (a put, a delete, a txn with a
 * write in a branch) takes the next place in a chain, in linearization order; its revision,
 * the log index of the entry, is known only from its answer. The chain keeps for each
 * entry the bounds [lo, hi] its revision must lie in:
 *
 * - Entries linearize in log order, so revisions grow strictly along the chain:
 *   lo[k] ≥ lo[k-1] + 1 and hi[k] ≤ hi[k+1] - 1.
 * - An entry that was answered has lo = hi = its revision. One whose answer was lost
 *   (timeout) starts at [lo of the one before + 1, ∞): it lies between its neighbours.
 * - Anything that observes a revision narrows its bounds: a read answering a key's
 *   modRevision or createRevision, a txn whose compare on them held or failed. The narrowing
 *   is carried along the chain; bounds that cross (lo > hi) mean that linearization is
 *   impossible.
 *
 * Every bound is implied by the answers and the order, so narrowing never rules out a
 * linearization that could have happened (no false alarm), and each answer that fixes a
 * revision is held against every other one (a compare that held against a revision already
 * overwritten crosses bounds).
 */

/** Revisions above any log index; JSON-safe (Infinity is not). */
export const UNBOUNDED = Number.MAX_SAFE_INTEGER;

/** An inclusive range of revisions. */
export type Interval = readonly [number, number];

export interface RevisionChain {
  readonly lo: readonly number[];
  readonly hi: readonly number[];
}

export const EMPTY_CHAIN: RevisionChain = { lo: [], hi: [] };

/** The lower bound of the last entry: 0 before any entry. */
function lastLo(chain: RevisionChain): number {
  return chain.lo.length === 0 ? 0 : chain.lo[chain.lo.length - 1]!;
}

/**
 * Append an entry (its revision, or null when unknown); null when that revision cannot come
 * next (not above the one before).
 */
export function appendEntry(chain: RevisionChain, revision: number | null): RevisionChain | null {
  const lo = [...chain.lo, lastLo(chain) + 1];
  const hi = [...chain.hi, UNBOUNDED];
  return revision === null
    ? { lo, hi }
    : narrowBounds({ lo, hi }, lo.length - 1, [revision, revision]);
}

/** Narrow entry `k` to `within` and carry it along the chain; null when that is impossible. */
export function narrowBounds(
  chain: RevisionChain,
  k: number,
  within: Interval,
): RevisionChain | null {
  const lo = [...chain.lo];
  const hi = [...chain.hi];
  lo[k] = Math.max(lo[k]!, within[0]);
  hi[k] = Math.min(hi[k]!, within[1]);
  if (lo[k]! > hi[k]!) return null;
  for (let j = k + 1; j < lo.length && lo[j]! <= lo[j - 1]!; j++) {
    lo[j] = lo[j - 1]! + 1;
    if (lo[j]! > hi[j]!) return null;
  }
  for (let j = k - 1; j >= 0 && hi[j]! >= hi[j + 1]!; j--) {
    hi[j] = hi[j + 1]! - 1;
    if (lo[j]! > hi[j]!) return null;
  }
  return { lo, hi };
}

/** The revision of entry `k` when its bounds fix it, else null. */
export function knownRevision(chain: RevisionChain, k: number): number | null {
  return chain.lo[k] === chain.hi[k] ? chain.lo[k]! : null;
}

/** The revisions where `x op value` holds (holds: true) or fails (holds: false). */
export function satisfying(op: "==" | "!=" | "<" | ">", value: number, holds: boolean): Interval[] {
  const below: Interval = [Number.MIN_SAFE_INTEGER, value - 1];
  const at: Interval = [value, value];
  const above: Interval = [value + 1, UNBOUNDED];
  switch (op) {
    case "==":
      return holds ? [at] : [below, above];
    case "!=":
      return holds ? [below, above] : [at];
    case "<":
      return holds ? [below] : [[value, UNBOUNDED]];
    case ">":
      return holds ? [above] : [[Number.MIN_SAFE_INTEGER, value]];
  }
}
