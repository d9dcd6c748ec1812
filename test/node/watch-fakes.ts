import pino from "pino";
import {
  defaultWatchHubOptions,
  WatchHub,
  type WatchHubOptions,
  type WatchScheduler,
} from "../../stages/apply/watch-hub.js";
import type { Reply, ReplyRoom, ReplyTarget, WatchItem } from "../../stages/items.js";
import type { WatchRequest } from "../../stages/protocol.js";
import { inRange, type KeySpan } from "../../storage/engines/engine.js";
import type {
  HistoryPort,
  HistoryRead,
  KeyValue,
  KvChanges,
} from "../../storage/engines/revisions.js";

/** Fakes around the watch hub: a change stream with its kept history, respond, and a clock. */

export function put(revision: number, key: string, value: string, prev?: KeyValue): KvChanges {
  const kv: KeyValue = {
    key,
    value,
    createRevision: prev?.createRevision ?? revision,
    modRevision: revision,
    version: (prev?.version ?? 0) + 1,
    lease: null,
  };
  return { revision, events: [{ type: "put", kv, prevKv: prev ?? null }] };
}

export function del(revision: number, key: string, prev: KeyValue | null): KvChanges {
  const kv: KeyValue = {
    key,
    value: "",
    createRevision: 0,
    modRevision: revision,
    version: 0,
    lease: null,
  };
  return { revision, events: [{ type: "delete", kv, prevKv: prev }] };
}

/** A fake state machine's history: what was applied, compacted below `compacted`. */
export class FakeHistory implements HistoryPort {
  readonly changes: KvChanges[] = [];
  applied = 0;
  compacted = 1;
  /** Reads held until release() (to let live changes arrive while one is out). */
  hold = false;
  private held: (() => void)[] = [];
  reads = 0;

  add(change: KvChanges): void {
    this.changes.push(change);
    this.applied = change.revision;
  }

  history(fromRevision: number, range: KeySpan, limit: number): Promise<HistoryRead> {
    this.reads++;
    // The answer reflects the state when it is served (as a real read would).
    const serve = (): HistoryRead => {
      if (fromRevision < this.compacted) return { ok: false, compactedRevision: this.compacted };
      const out: KvChanges[] = [];
      let events = 0;
      let through = this.applied;
      for (const change of this.changes) {
        if (change.revision < fromRevision) continue;
        if (events >= limit) {
          through = change.revision - 1;
          break;
        }
        const selected = change.events.filter((e) => inRange(e.kv.key, range));
        events += selected.length;
        if (selected.length > 0) out.push({ revision: change.revision, events: selected });
      }
      return { ok: true, changes: out, throughRevision: through };
    };
    if (!this.hold) return Promise.resolve(serve());
    return new Promise((resolve) => this.held.push(() => resolve(serve())));
  }

  release(): void {
    const held = this.held;
    this.held = [];
    for (const go of held) go();
  }
}

export type Frame = {
  watch: number;
  events?: { type: string; kv: KeyValue; prevKv?: KeyValue }[];
} & Record<string, unknown>;

/** Records what the hub sends, per connection, in order; `rooms` says who is slow or gone. */
export class FakeRespond {
  readonly out: { connId: number; reply?: Reply; frame?: Frame }[] = [];
  readonly rooms = new Map<number, ReplyRoom>();

  reply(reply: Reply): void {
    this.out.push({ connId: (reply.target as { connId: number }).connId, reply });
  }
  push(connId: number, frame: Record<string, unknown>): void {
    this.out.push({ connId, frame: frame as Frame });
  }
  room(target: ReplyTarget): ReplyRoom {
    return target.kind === "local" ? (this.rooms.get(target.connId) ?? "open") : "open";
  }
  frames(connId: number, watch?: number): Frame[] {
    return this.out
      .filter(
        (o) => o.connId === connId && o.frame && (watch === undefined || o.frame.watch === watch),
      )
      .map((o) => o.frame!);
  }
  replies(connId: number): Reply[] {
    return this.out.filter((o) => o.connId === connId && o.reply).map((o) => o.reply!);
  }
}

/** A manual clock: tick(ms) runs what falls due. */
export class ManualScheduler implements WatchScheduler {
  private timers = new Set<{ ms: number; next: number; fn: () => void }>();
  now = 0;
  every(ms: number, fn: () => void): { cancel(): void } {
    const timer = { ms, next: this.now + ms, fn };
    this.timers.add(timer);
    return { cancel: () => this.timers.delete(timer) };
  }
  tick(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      const due = [...this.timers].filter((t) => t.next <= end).sort((a, b) => a.next - b.next)[0];
      if (due === undefined) break;
      this.now = due.next;
      due.next += due.ms;
      due.fn();
    }
    this.now = end;
  }
  get active(): number {
    return this.timers.size;
  }
}

/** A hub over the fakes; `apply(change)` applies a change to the history and the hub. */
export function hubWithFakes(options: Partial<WatchHubOptions> = {}) {
  const history = new FakeHistory();
  const respond = new FakeRespond();
  const scheduler = new ManualScheduler();
  const hub = new WatchHub(
    respond,
    history,
    scheduler,
    { ...defaultWatchHubOptions, progressIntervalMs: 1_000, ...options },
    pino({ level: "silent" }),
    0,
  );
  hub.start();
  let nextId = 1;
  return {
    hub,
    history,
    respond,
    scheduler,
    apply(...changes: KvChanges[]) {
      for (const change of changes) history.add(change);
      hub.onChanges(changes, history.applied);
    },
    watch(connId: number, request: Partial<WatchRequest>): number {
      const id = nextId++;
      const item: WatchItem = {
        kind: "watch",
        connId,
        id,
        request: { op: "watch", prevKv: false, noPut: false, noDelete: false, ...request },
      };
      hub.handle(item, history.applied);
      return id;
    },
    cancel(connId: number, watch: number): number {
      const id = nextId++;
      hub.handle(
        { kind: "watch", connId, id, request: { op: "cancel-watch", watch } },
        history.applied,
      );
      return id;
    },
    close(connId: number) {
      hub.handle({ kind: "watch-closed", connId }, history.applied);
    },
  };
}

/** Let promise callbacks (history reads) run. */
export async function settle(): Promise<void> {
  for (let k = 0; k < 5; k++) await new Promise((resolve) => setImmediate(resolve));
}
