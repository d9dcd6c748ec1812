/**
 * The 1-second windows of a phase: how many requests completed in each second of the measured
 * window, and how far the worst second fell below the mean (a snapshot or a GC pause shows as
 * a dip that the phase's mean hides). Pure: the load generator counts, the bench merges.
 */

/** A window falling below this fraction of the mean counts as a dip. */
export const dipFraction = 0.8;

/** One counter per whole second of a measured window of `measureMs` (a partial last second is not counted). */
export function emptyWindows(measureMs: number): number[] {
  return new Array<number>(Math.max(0, Math.floor(measureMs / 1000))).fill(0);
}

/** Count a completion at `sinceStartMs` after the measured window opened (ignored outside it). */
export function countIn(windows: number[], sinceStartMs: number): void {
  const index = Math.floor(sinceStartMs / 1000);
  if (index >= 0 && index < windows.length) windows[index]! += 1;
}

/** Several load generators' windows of the same phase, added second by second. */
export function mergeWindows(parts: readonly (readonly number[])[]): number[] {
  const length = Math.max(0, ...parts.map((part) => part.length));
  const merged = new Array<number>(length).fill(0);
  for (const part of parts)
    part.forEach((count, k) => {
      merged[k]! += count;
    });
  return merged;
}

export interface WindowStats {
  /** Requests completed in each whole second of the measured window. */
  readonly counts: number[];
  readonly meanPerSecond: number;
  /** The fewest completions in one window, as a fraction of the mean (1: no dip). */
  readonly minFraction: number;
  /** Which second (0-based) that was. */
  readonly minIndex: number;
  /** How many windows fell below `dipFraction` of the mean. */
  readonly below80Percent: number;
}

/** null when there is no whole second or no completion at all. */
export function windowStats(counts: readonly number[]): WindowStats | null {
  const total = counts.reduce((sum, count) => sum + count, 0);
  if (counts.length === 0 || total === 0) return null;
  const mean = total / counts.length;
  let minIndex = 0;
  counts.forEach((count, k) => {
    if (count < counts[minIndex]!) minIndex = k;
  });
  return {
    counts: [...counts],
    meanPerSecond: Math.round(mean * 10) / 10,
    minFraction: Math.round((counts[minIndex]! / mean) * 1000) / 1000,
    minIndex,
    below80Percent: counts.filter((count) => count < dipFraction * mean).length,
  };
}
