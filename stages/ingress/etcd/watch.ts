import { spanOf } from "./bytes.js";
import type { Handlers } from "./door.js";
import { EtcdError } from "./errors.js";
import { type Fields, type HeaderOf, keyValue } from "./range.js";
import type { Session } from "./session.js";

/**
 * etcd's Watch service: one bidirectional stream carries many watches, each a native `watch`
 * on the stream's session (served by this node from its applied stream, as etcd does).
 * etcd's watch ids are per stream (0, 1, …, or chosen by the client); native ids are per node.
 */
export function watchHandlers(header: HeaderOf, appliedIndex: () => number): Handlers {
  return {
    Watch: {
      stream: (rpc, open, fail) => {
        const stream = new WatchStream(header, appliedIndex, (response) => {
          if (!rpc.writableEnded) rpc.write(response);
        });
        stream.session = open((frame) => stream.pushed(frame));
        let chain: Promise<void> = Promise.resolve();
        rpc.on("data", (req: Fields) => {
          chain = chain.then(() => stream.request(req)).catch(fail);
        });
      },
    },
  };
}

interface WatchState {
  readonly etcdId: string;
  readonly progressNotify: boolean;
  /** The client asked for fragments (etcd's `fragment`): else a revision goes out whole. */
  readonly fragment: boolean;
  /** Every change up to here was delivered (the progress a response may promise). */
  through: number;
  /** Events of fragments received of one revision, held until its last frame. */
  partial: Fields[];
}

class WatchStream {
  session: Session | null = null;
  private readonly byNative = new Map<number, WatchState>();
  private readonly byEtcd = new Map<string, number>();
  /** Frames pushed before their watch's create reply was handled (same respond batch). */
  private readonly early = new Map<number, Fields[]>();
  private nextId = 0;

  constructor(
    private readonly header: HeaderOf,
    private readonly appliedIndex: () => number,
    private readonly write: (response: Fields) => void,
  ) {}

  async request(req: Fields): Promise<void> {
    if (req.create_request) await this.create(req.create_request as Fields);
    else if (req.cancel_request) await this.cancel(String((req.cancel_request as Fields).watch_id));
    else if (req.progress_request) this.progress();
  }

  private async create(req: Fields): Promise<void> {
    const wanted = String(req.watch_id ?? "0");
    let etcdId: string;
    if (wanted !== "0") etcdId = wanted;
    else {
      while (this.byEtcd.has(String(this.nextId))) this.nextId++;
      etcdId = String(this.nextId++);
    }
    if (this.byEtcd.has(etcdId)) {
      this.refuse(`watch id ${etcdId} is already in use on this stream`);
      return;
    }
    const filters = (req.filters as string[]) ?? [];
    const start = Number(req.start_revision ?? 0);
    let frame: Fields;
    try {
      frame = {
        op: "watch",
        ...spanOf(req.key as Buffer, req.range_end as Buffer),
        ...(start > 0 ? { startRevision: start } : {}),
        ...(req.prev_kv === true ? { prevKv: true } : {}),
        ...(filters.includes("NOPUT") ? { noPut: true } : {}),
        ...(filters.includes("NODELETE") ? { noDelete: true } : {}),
      };
    } catch (error) {
      this.refuse((error as Error).message);
      return;
    }
    try {
      const reply = await this.session!.call(frame);
      const nativeId = reply.watch as number;
      const through = start > 0 ? start - 1 : Number(reply.revision);
      this.byNative.set(nativeId, {
        etcdId,
        progressNotify: req.progress_notify === true,
        fragment: req.fragment === true,
        through,
        partial: [],
      });
      this.byEtcd.set(etcdId, nativeId);
      this.write({ header: this.header(reply.revision), watch_id: etcdId, created: true });
      for (const early of this.early.get(nativeId) ?? []) this.pushed(early);
      this.early.delete(nativeId);
    } catch (error) {
      const compacted = compactRevision(error);
      if (compacted === null) {
        this.refuse((error as Error).message);
        return;
      }
      // etcd: the watch is created, then cancelled with the oldest revision it still has.
      const header = this.header(this.appliedIndex());
      this.write({ header, watch_id: etcdId, created: true });
      this.write({
        header,
        watch_id: etcdId,
        canceled: true,
        compact_revision: compacted,
        cancel_reason: "etcdserver: mvcc: required revision has been compacted",
      });
    }
  }

  private refuse(reason: string): void {
    const header = this.header(this.appliedIndex());
    this.write({ header, watch_id: "-1", created: true, canceled: true, cancel_reason: reason });
  }

  private async cancel(etcdId: string): Promise<void> {
    const nativeId = this.byEtcd.get(etcdId);
    if (nativeId === undefined) return; // etcd ignores a cancel of an unknown id.
    this.forget(nativeId);
    await this.session!.call({ op: "cancel-watch", watch: nativeId }).catch(() => {});
    this.write({ header: this.header(this.appliedIndex()), watch_id: etcdId, canceled: true });
  }

  /** etcd's progress response: every watch of the stream is delivered through its revision. */
  private progress(): void {
    const throughs = [...this.byNative.values()].map((w) => w.through);
    const revision = throughs.length > 0 ? Math.min(...throughs) : this.appliedIndex();
    this.write({ header: this.header(revision), watch_id: "-1" });
  }

  /** A frame the node pushed for one of this stream's watches. */
  pushed(frame: Fields): void {
    const nativeId = frame.watch as number;
    const watch = this.byNative.get(nativeId);
    if (watch === undefined) {
      const list = this.early.get(nativeId) ?? [];
      list.push(frame);
      this.early.set(nativeId, list);
      return;
    }
    const header = this.header(frame.revision);
    if (frame.canceled === true) {
      this.forget(nativeId);
      this.write({
        header,
        watch_id: watch.etcdId,
        canceled: true,
        cancel_reason: frame.reason,
        compact_revision: frame.compactRevision ?? 0,
      });
      return;
    }
    if (typeof frame.revision === "number") watch.through = Math.max(watch.through, frame.revision);
    let events = ((frame.events as Fields[]) ?? []).map(event);
    // A revision too large for one native frame comes in fragments (docs/watch.md): etcd
    // clients that did not ask for fragments get it in one response, as from etcd.
    const fragment = frame.fragment === true;
    if (fragment && !watch.fragment) {
      for (const e of events) watch.partial.push(e);
      return;
    }
    if (watch.partial.length > 0) {
      events = watch.partial.concat(events);
      watch.partial = [];
    }
    // Idle progress frames reach an etcd client only where it asked for them.
    if (events.length === 0 && !watch.progressNotify) return;
    this.write({ header, watch_id: watch.etcdId, events, ...(fragment ? { fragment } : {}) });
  }

  private forget(nativeId: number): void {
    const watch = this.byNative.get(nativeId);
    if (watch === undefined) return;
    this.byNative.delete(nativeId);
    this.byEtcd.delete(watch.etcdId);
  }
}

function event(e: Fields): Fields {
  return {
    type: e.type === "delete" ? "DELETE" : "PUT",
    kv: keyValue(e.kv as Fields, false),
    ...(e.prevKv ? { prev_kv: keyValue(e.prevKv as Fields, false) } : {}),
  };
}

/** The oldest kept revision named by a native COMPACTED answer; null: another error. */
function compactRevision(error: unknown): number | null {
  if (!(error instanceof EtcdError) || error.native?.code !== "COMPACTED") return null;
  const match = /oldest kept is (\d+)/.exec(error.native.message);
  return match ? Number(match[1]) : 0;
}
