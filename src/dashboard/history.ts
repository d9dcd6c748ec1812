import type { LocalSnapshot, Marker } from "./view.js";

/** One second of the charts: per stage (in `stages` order) throughput, wait p99, service p99. */
export interface HistoryPoint {
  /** Unix ms. */
  readonly at: number;
  readonly tp: readonly (number | null)[];
  /** null: the stage has no queue, or no samples in its percentile window (idle). */
  readonly wait: readonly (number | null)[];
  readonly svc: readonly (number | null)[];
}

export interface HistoryView {
  readonly stages: readonly string[];
  readonly spanMs: number;
  readonly points: readonly HistoryPoint[];
  readonly markers: readonly Marker[];
}

export interface DashboardHistoryOptions {
  /** Points kept (one a sample); defaults to 300, five minutes at one a second. */
  readonly points?: number;
  readonly sampleMs?: number;
  /** Markers kept at most; older ones also leave with the oldest point. */
  readonly markers?: number;
}

/** What the previous sample saw, to tell events from steady state. */
interface Seen {
  readonly snapshots: number;
  readonly term: number;
  readonly leader: string | null;
  readonly members: string;
}

/**
 * The charts' last minutes kept server-side, so a page opened now starts with history: a
 * bounded ring of one point per sample, and the events of that span (snapshots taken,
 * elections, membership changes) found by comparing each sample with the one before.
 * Invariant: points.length <= pointsMax and markers.length <= markersMax.
 */
export class DashboardHistory {
  private readonly pointsMax: number;
  private readonly markersMax: number;
  private readonly sampleMs: number;
  private readonly points: HistoryPoint[] = [];
  private readonly markers: Marker[] = [];
  private stages: readonly string[] = [];
  private seen: Seen | null = null;

  constructor(options: DashboardHistoryOptions = {}) {
    this.pointsMax = options.points ?? 300;
    this.markersMax = options.markers ?? 100;
    this.sampleMs = options.sampleMs ?? 1_000;
  }

  record(snapshot: LocalSnapshot): void {
    this.stages = snapshot.stages.map((s) => s.name);
    const idle = (s: LocalSnapshot["stages"][number]) =>
      s.kind !== "queue" || s.percentileSamples === 0;
    this.points.push({
      at: snapshot.at,
      tp: snapshot.stages.map((s) => s.throughputPerSec),
      wait: snapshot.stages.map((s) => (idle(s) ? null : s.waitMsP99)),
      svc: snapshot.stages.map((s) => (idle(s) ? null : s.serviceMsP99)),
    });
    if (this.points.length > this.pointsMax) this.points.shift();
    this.mark(snapshot);
    const oldest = this.points[0]!.at;
    while (
      this.markers.length > this.markersMax ||
      (this.markers.length > 0 && this.markers[0]!.at < oldest)
    )
      this.markers.shift();
  }

  view(): HistoryView {
    return {
      stages: this.stages,
      spanMs: this.pointsMax * this.sampleMs,
      points: [...this.points],
      markers: [...this.markers],
    };
  }

  recentMarkers(): readonly Marker[] {
    return [...this.markers];
  }

  private mark(snapshot: LocalSnapshot): void {
    const { raft, apply, at } = snapshot;
    const members = [...raft.voters, ...raft.learners.map((name) => `${name} (learner)`)]
      .sort()
      .join(", ");
    const now: Seen = { snapshots: apply.snapshots, term: raft.term, leader: raft.leader, members };
    const before = this.seen;
    this.seen = now;
    if (before === null) return;
    if (now.snapshots > before.snapshots)
      this.markers.push({ at, kind: "snapshot", text: `snapshot at index ${raft.appliedIndex}` });
    if (now.term !== before.term || now.leader !== before.leader)
      this.markers.push({
        at,
        kind: "election",
        text: `term ${now.term}: ${now.leader === null ? "no leader" : `leader ${now.leader}`}`,
      });
    if (now.members !== before.members)
      this.markers.push({ at, kind: "membership", text: `members: ${members}` });
  }
}
