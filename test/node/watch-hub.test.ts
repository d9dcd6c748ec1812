import { describe, expect, test } from "vitest";
import { SeededRandom } from "../../raft/mod.js";
import { del, type Frame, hubWithFakes, put, settle } from "./watch-fakes.js";

/** Unit tests of the watch hub (stages/apply/watch-hub.ts) over a fake change stream. */

function revisions(frames: Frame[]): number[] {
  return frames.flatMap((f) => (f.events ?? []).map((e) => e.kv.modRevision));
}

function okResult(reply: { body: unknown }): Record<string, unknown> {
  const body = reply.body as { ok: boolean; result: Record<string, unknown> };
  expect(body.ok).toBe(true);
  return body.result;
}

describe("watch hub", () => {
  test("a watch without startRevision starts right after the applied index, reply first", () => {
    const t = hubWithFakes();
    t.apply(put(1, "a", "1"), put(2, "a", "2"));
    t.watch(1, { key: "a" });
    expect(t.respond.out).toHaveLength(1);
    const result = okResult(t.respond.out[0]!.reply!);
    expect(result.revision).toBe(2);
    t.apply(put(3, "a", "3"), put(4, "b", "x"));
    const frames = t.respond.frames(1);
    expect(frames).toEqual([
      {
        watch: result.watch,
        events: [{ type: "put", kv: put(3, "a", "3").events[0]!.kv }],
        revision: 4,
      },
    ]);
  });

  test("key, prefix and range watches see only their keys; filters and prevKv", () => {
    const t = hubWithFakes();
    t.watch(1, { key: "cfg/a" });
    t.watch(1, { prefix: "cfg/" });
    t.watch(1, { start: "c", end: "cf" });
    t.watch(1, { prefix: "", noPut: true, prevKv: true });
    t.watch(1, { prefix: "", noDelete: true });
    const a1 = put(1, "cfg/a", "1");
    t.apply(a1, put(2, "cfg/b", "2"), put(3, "c", "3"), put(4, "d", "4"));
    t.apply(del(5, "cfg/a", a1.events[0]!.kv));
    t.apply(put(6, "\u0000session", "x"));
    const byWatch = (w: number) => revisions(t.respond.frames(1, w));
    expect(byWatch(1)).toEqual([1, 5]);
    expect(byWatch(2)).toEqual([1, 2, 5]);
    expect(byWatch(3)).toEqual([3]);
    expect(byWatch(4)).toEqual([5]);
    expect(byWatch(5)).toEqual([1, 2, 3, 4]);
    const deleted = t.respond.frames(1, 4)[0]!.events![0]!;
    expect(deleted.type).toBe("delete");
    expect(deleted.prevKv).toEqual(a1.events[0]!.kv);
    // prevKv is left out unless asked.
    const putA2 = put(7, "cfg/a", "2", a1.events[0]!.kv);
    t.apply(putA2);
    expect(t.respond.frames(1, 1).at(-1)!.events![0]).not.toHaveProperty("prevKv");
  });

  test("large catch-ups go out in frames cut between revisions, each promising what it holds", async () => {
    const t = hubWithFakes({ maxFrameBytes: 4_000 });
    for (let r = 1; r <= 30; r++) t.apply(put(r, "a", "v".repeat(1_000)));
    t.watch(1, { key: "a", startRevision: 1 });
    await settle();
    const frames = t.respond.frames(1);
    expect(frames.length).toBeGreaterThan(5);
    expect(revisions(frames)).toEqual(Array.from({ length: 30 }, (_, k) => k + 1));
    for (const frame of frames.slice(0, -1))
      expect(frame.revision).toBe(frame.events!.at(-1)!.kv.modRevision);
  });

  test("one revision larger than a frame goes out in fragments; each promises only what precedes it", () => {
    const t = hubWithFakes({ maxFrameBytes: 4_000 });
    t.watch(1, { prefix: "k", prevKv: true });
    const keys = Array.from({ length: 40 }, (_, k) => `k${String(k).padStart(2, "0")}`);
    for (const [k, key] of keys.entries()) t.apply(put(k + 1, key, "v".repeat(1_000)));
    // One range delete (one revision) with 40 prevKvs of 1,000 characters: ~46 KB.
    const deletes = keys.map((key, k) =>
      del(41, key, put(k + 1, key, "v".repeat(1_000)).events[0]!.kv),
    );
    t.apply({ revision: 41, events: deletes.flatMap((d) => d.events) });
    const frames = t.respond
      .frames(1)
      .filter((f) => f.events!.some((e) => e.kv.modRevision === 41));
    expect(frames.length).toBeGreaterThan(5);
    for (const frame of frames.slice(0, -1)) {
      expect(frame.fragment).toBe(true);
      expect(frame.revision).toBe(40);
      expect(frame.events!.length).toBeLessThanOrEqual(4);
    }
    expect(frames.at(-1)).not.toHaveProperty("fragment");
    expect(frames.at(-1)!.revision).toBe(41);
    expect(frames.flatMap((f) => f.events!.map((e) => e.kv.key))).toEqual(keys);
  });

  test("an event too large to encode cancels the watch with TOO_LARGE rather than skip it", () => {
    const t = hubWithFakes({ maxEventChars: 5_000 });
    t.watch(1, { key: "a" });
    t.apply(put(1, "a", "1"));
    // 1,000 characters that JSON escapes as 6 each: estimated small, encoded 6,000+.
    t.apply(put(2, "a", "\u0001".repeat(1_000)));
    t.apply(put(3, "a", "3"));
    const frames = t.respond.frames(1);
    expect(revisions(frames)).toEqual([1]);
    expect(frames.at(-1)).toMatchObject({ canceled: true, revision: 1 });
    expect(String(frames.at(-1)!.reason)).toMatch(/^TOO_LARGE: .*revision 2/);
  });

  test("a future startRevision skips the changes before it", () => {
    const t = hubWithFakes();
    t.apply(put(1, "a", "1"));
    t.watch(1, { key: "a", startRevision: 3 });
    t.apply(put(2, "a", "2"), put(3, "a", "3"));
    expect(revisions(t.respond.frames(1))).toEqual([3]);
  });

  test("catch-up from history then live: every revision once, in order (seeded)", async () => {
    for (let round = 0; round < 30; round++) {
      const seed = 1000 + round;
      const random = new SeededRandom(seed);
      const t = hubWithFakes({
        historyBatchEvents: 1 + random.int(5),
        maxCatchupBufferBytes: 200 + random.int(2000),
      });
      let revision = 0;
      const step = () => {
        revision++;
        t.apply(put(revision, `k${random.int(3)}`, String(revision)));
      };
      const before = 5 + random.int(40);
      for (let k = 0; k < before; k++) step();
      const start = 1 + random.int(before);
      t.history.hold = true;
      t.watch(1, { prefix: "k", startRevision: start });
      // Live changes arrive while history reads are out, released in between.
      for (let k = 0; k < 40; k++) {
        if (random.int(3) === 0) step();
        if (random.int(2) === 0) {
          t.history.release();
          await settle();
        }
      }
      t.history.hold = false;
      t.history.release();
      await settle();
      step();
      await settle();
      const seen = revisions(t.respond.frames(1));
      const want = Array.from({ length: revision - start + 1 }, (_, k) => start + k);
      expect(seen, `seed ${seed}`).toEqual(want);
      // Frames' revisions never go back, and the reply came first.
      const frameRevs = t.respond.frames(1).map((f) => f.revision as number);
      expect(
        [...frameRevs].sort((x, y) => x - y),
        `seed ${seed}`,
      ).toEqual(frameRevs);
      expect(t.respond.out[0]!.reply, `seed ${seed}`).toBeDefined();
    }
  });

  test("a start revision older than the kept history is answered COMPACTED", async () => {
    const t = hubWithFakes();
    for (let r = 1; r <= 10; r++) t.apply(put(r, "a", String(r)));
    t.history.compacted = 6;
    t.watch(1, { key: "a", startRevision: 3 });
    await settle();
    const [reply] = t.respond.replies(1);
    expect(reply!.body).toMatchObject({ ok: false, error: { code: "COMPACTED" } });
    expect(t.hub.size).toBe(0);
    t.apply(put(11, "a", "11"));
    expect(t.respond.frames(1)).toEqual([]);
  });

  test("a slow watcher is held back, then cancelled with where to resume; memory stays bounded", () => {
    const t = hubWithFakes({ maxPendingBytesPerConnection: 64 * 1024 });
    t.watch(1, { key: "a" });
    t.watch(2, { key: "a" }); // A reading watcher of the same key is not held back.
    t.apply(put(1, "a", "x"));
    t.respond.rooms.set(1, "full");
    let canceled: Frame | undefined;
    for (let r = 2; r < 2_000 && !canceled; r++) {
      t.apply(put(r, "a", "v".repeat(1000)));
      canceled = t.respond.frames(1).find((f) => f.canceled);
    }
    expect(canceled).toMatchObject({ watch: 1, canceled: true, revision: 1 });
    expect(String(canceled!.reason)).toContain("resume from revision 2");
    expect(t.hub.size).toBe(1);
    // Cancelled long before 2,000 revisions: the bound held.
    const last = revisions(t.respond.frames(2)).at(-1)!;
    expect(last).toBeLessThan(200);
    t.respond.rooms.set(1, "open");
    t.apply(put(last + 1, "a", "y"));
    expect(t.respond.frames(1).filter((f) => !f.canceled)).toHaveLength(1);
  });

  test("catching-up watches of a connection that does not read hold a bounded buffer together", async () => {
    const bound = 64 * 1024;
    const t = hubWithFakes({ maxCatchupBufferBytes: bound });
    for (let r = 1; r <= 200; r++) t.apply(put(r, "a", "1"));
    t.respond.rooms.set(1, "full");
    // Each watch's first history read (cut by its limit) is held: it stays catching up,
    // buffering the live changes.
    for (let w = 0; w < 50; w++) t.watch(1, { prefix: "", startRevision: 1 });
    await settle();
    for (let r = 201; r < 400; r++) t.apply(put(r, "a", "v".repeat(1000)));
    expect(t.hub.size).toBe(50);
    // One connection's buffers are bounded together, not per watch (50 × 64 KiB).
    expect(t.hub.bufferedBytes).toBeLessThanOrEqual(bound + 2_000);
    // Once it reads again, every watch catches up from the history: nothing was lost.
    t.respond.rooms.set(1, "open");
    for (let k = 0; k < 20; k++) {
      t.scheduler.tick(50);
      await settle();
    }
    t.apply(put(400, "a", "end"));
    for (const reply of t.respond.replies(1)) {
      const watch = okResult(reply).watch as number;
      expect(revisions(t.respond.frames(1, watch))).toEqual(
        Array.from({ length: 400 }, (_, k) => k + 1),
      );
    }
  });

  test("held frames go out in order once the client reads again", () => {
    const t = hubWithFakes();
    t.watch(1, { key: "a" });
    t.respond.rooms.set(1, "full");
    t.apply(put(1, "a", "1"), put(2, "a", "2"));
    t.apply(put(3, "a", "3"));
    expect(t.respond.frames(1)).toEqual([]);
    expect(t.scheduler.active).toBe(2); // Progress, and the flush retry while held.
    t.respond.rooms.set(1, "open");
    t.scheduler.tick(50);
    expect(revisions(t.respond.frames(1))).toEqual([1, 2, 3]);
    expect(t.scheduler.active).toBe(1);
  });

  test("thousands of idle watchers: a change reaches only its watchers; one progress timer", () => {
    const t = hubWithFakes();
    for (let k = 0; k < 5_000; k++) t.watch(1 + (k % 50), { key: `key${k}` });
    t.respond.out.length = 0;
    t.apply(put(1, "key42", "x"));
    expect(t.respond.out).toHaveLength(1);
    expect(t.respond.out[0]!.frame).toMatchObject({ revision: 1 });
    expect(t.scheduler.active).toBe(1);
    t.respond.out.length = 0;
    t.scheduler.tick(1_000);
    // key42's watcher sent a frame in this period: not idle.
    expect(t.respond.out).toHaveLength(4_999);
    expect(
      t.respond.out.every((o) => o.frame!.revision === 1 && o.frame!.events!.length === 0),
    ).toBe(true);
    t.respond.out.length = 0;
    t.scheduler.tick(1_000);
    expect(t.respond.out).toHaveLength(5_000);
  });

  test("cancel-watch: only the connection's own watches; then no more frames", () => {
    const t = hubWithFakes();
    t.watch(1, { key: "a" });
    const w = okResult(t.respond.replies(1)[0]!).watch as number;
    t.cancel(2, w);
    expect(t.respond.replies(2)[0]!.body).toMatchObject({
      ok: false,
      error: { code: "BAD_REQUEST" },
    });
    t.cancel(1, 999);
    expect(t.respond.replies(1)[1]!.body).toMatchObject({
      ok: false,
      error: { code: "BAD_REQUEST" },
    });
    t.cancel(1, w);
    expect(okResult(t.respond.replies(1)[2]!)).toEqual({ canceled: true });
    t.apply(put(1, "a", "1"));
    expect(t.respond.frames(1)).toEqual([]);
    expect(t.hub.size).toBe(0);
  });

  test("a closed connection's watches are freed (at once, or at the next tick if the close was lost)", () => {
    const t = hubWithFakes();
    t.watch(1, { key: "a" });
    t.watch(1, { prefix: "" });
    t.watch(2, { key: "a" });
    t.close(1);
    expect(t.hub.size).toBe(1);
    t.respond.rooms.set(2, "gone");
    t.scheduler.tick(1_000);
    expect(t.hub.size).toBe(0);
    t.apply(put(1, "a", "1"));
    expect(t.respond.out.filter((o) => o.frame)).toEqual([]);
  });

  test("ids are unique per node across connections", () => {
    const t = hubWithFakes();
    for (let c = 1; c <= 5; c++) t.watch(c, { key: "a" });
    const ids = [1, 2, 3, 4, 5].map((c) => okResult(t.respond.replies(c)[0]!).watch);
    expect(new Set(ids).size).toBe(5);
  });

  test("a restored snapshot: watches catch up from the history it carried, or end COMPACTED", async () => {
    const t = hubWithFakes();
    t.apply(put(1, "a", "1"));
    t.watch(1, { key: "a" });
    t.watch(2, { key: "a" });
    // Entries 2..20 arrive inside a snapshot: no changes pass the hub.
    for (let r = 2; r <= 20; r++) t.history.add(put(r, r % 2 ? "a" : "b", String(r)));
    t.hub.onRestore(20);
    await settle();
    t.apply(put(21, "a", "21"));
    expect(revisions(t.respond.frames(1))).toEqual([3, 5, 7, 9, 11, 13, 15, 17, 19, 21]);
    // A second restore whose history no longer holds what the watch needs.
    for (let r = 22; r <= 30; r++) t.history.add(put(r, "a", String(r)));
    t.history.compacted = 25;
    t.hub.onRestore(30);
    await settle();
    expect(t.respond.frames(1).at(-1)).toMatchObject({ canceled: true, compactRevision: 25 });
    expect(t.hub.size).toBe(0);
  });
});
