/**
 * The watch fan-out phase: `watchers` watches on one prefix, created from a known revision,
 * while puts run under it (a closed loop of `window` in flight) for measureMs. Then it waits
 * until every watcher has every acknowledged put (or the drain time runs out) and checks each
 * watcher's events exactly: every acknowledged put once, in revision order. The figure is the
 * events delivered to all watchers together per second, from the first put to the last event.
 */

import { closedLoop, type PhaseFigure, type WatchCheck } from "./api-phases.js";
import type { ApiTarget } from "./api-targets.js";
import { sleep } from "./launch.js";

const prefix = "w/";
/** Watchers created at once: enough to be quick, few enough not to flood the server's accept. */
const createBatch = 100;

export class Watcher {
  readonly revisions: number[] = [];
  /** Receive time per revision, for the lag of the sampled watchers only. */
  readonly receivedAt: Map<number, number> | null;

  constructor(sampled: boolean) {
    this.receivedAt = sampled ? new Map() : null;
  }
}

/** Compare each watcher's revisions with the acknowledged puts (sorted). */
export function check(watchers: readonly Watcher[], acked: readonly number[]): WatchCheck {
  const ackedSet = new Set(acked);
  let complete = 0;
  let missing = 0;
  let doubled = 0;
  let extra = 0;
  for (const watcher of watchers) {
    let previous = 0;
    let found = 0;
    let mine = 0;
    for (const revision of watcher.revisions) {
      if (revision <= previous) doubled++;
      else if (ackedSet.has(revision)) found++;
      else mine++;
      previous = Math.max(previous, revision);
    }
    missing += acked.length - found;
    extra += mine;
    if (found === acked.length && watcher.revisions.length === acked.length) complete++;
  }
  return { watchers: watchers.length, complete, missing, doubled, extra };
}

export async function watchPhase(
  putter: ApiTarget,
  watchSource: ApiTarget,
  options: {
    watchers: number;
    window: number;
    measureMs: number;
    drainMs: number;
    valueBytes: number;
  },
): Promise<PhaseFigure> {
  const base = await putter.put(`${prefix}start`, "0");
  const watchers = Array.from(
    { length: options.watchers },
    (_, k) => new Watcher(k % Math.max(1, Math.floor(options.watchers / 10)) === 0),
  );
  let received = 0;
  let lastEventAt = 0;
  const cancels: (() => Promise<void>)[] = [];
  for (let k = 0; k < watchers.length; k += createBatch)
    cancels.push(
      ...(await Promise.all(
        watchers.slice(k, k + createBatch).map((watcher) =>
          watchSource.watch(prefix, base + 1, (revision) => {
            const now = performance.now();
            watcher.revisions.push(revision);
            watcher.receivedAt?.set(revision, now);
            received++;
            lastEventAt = now;
          }),
        ),
      )),
    );

  const sentAt = new Map<number, number>();
  const acked: number[] = [];
  const body = "v".repeat(options.valueBytes);
  let next = 0;
  const putsStart = performance.now();
  const puts = await closedLoop(
    [putter],
    { window: options.window, warmupMs: 0, measureMs: options.measureMs, seed: 0x3a7c },
    async (target) => {
      const t0 = performance.now();
      const revision = await target.put(`${prefix}${next++}`, body);
      acked.push(revision);
      sentAt.set(revision, t0);
    },
  );
  acked.sort((a, b) => a - b);
  const drainStart = performance.now();
  const want = acked.length;
  while (
    watchers.some((watcher) => watcher.revisions.length < want) &&
    performance.now() - drainStart < options.drainMs
  )
    await sleep(50);
  const drainedMs = performance.now() - drainStart;
  await sleep(200); // late doubles, if any, arrive before the check
  await Promise.all(cancels.map((cancel) => cancel().catch(() => {})));

  const lags: number[] = [];
  for (const watcher of watchers)
    for (const [revision, at] of watcher.receivedAt ?? []) {
      const sent = sentAt.get(revision);
      if (sent !== undefined) lags.push(at - sent);
    }
  const sorted = Float64Array.from(lags).sort();
  const at = (p: number) =>
    sorted.length === 0
      ? null
      : sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
  const seconds = Math.max(1e-3, (lastEventAt - putsStart) / 1000);
  return {
    phase: "watch",
    unit: "events/s",
    ok: received,
    errors: puts.errors,
    errorSamples: puts.errorSamples,
    perSecond: received / seconds,
    p50Ms: at(50),
    p99Ms: at(99),
    puts,
    check: check(watchers, acked),
    drainedMs,
  };
}
