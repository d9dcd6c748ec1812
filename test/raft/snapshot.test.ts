import { describe, expect, test } from "vitest";
import { AssertionError } from "../../raft/assert.js";
import type { InstallSnapshot, Message, SnapshotMeta } from "../../raft/types.js";
import { Harness, is, sameLogs, text } from "./harness.js";

const ET = 10;
const CHUNK = 10;
const SIZE = 35;

const isSnapshot = (m: Message): m is InstallSnapshot => m.type === "snapshot";

/**
 * a leads; c is cut off while ten entries commit; a snapshots at 11 (SIZE bytes) and compacts
 * its whole log. c is left behind the log's start and can only catch up from the snapshot.
 */
function laggingFollower(settings = {}): { h: Harness; meta: SnapshotMeta } {
  const h = new Harness(["a", "b", "c"], { snapshotChunkBytes: CHUNK, ...settings });
  h.elect("a");
  h.tickAndStabilize(1);
  h.isolate("c");
  for (let k = 0; k < 10; k++) h.propose("a", `k${k}=${k}`);
  h.tickAndStabilize(2, ["a", "b"]);
  const a = h.node("a");
  expect(a.status().appliedIndex).toBe(11);
  const meta = h.compact("a", 11, SIZE);
  expect(a.log.firstIndex).toBe(12);
  return { h, meta };
}

/** Heal, then run the cluster until the leader's first chunk to c is in flight (undelivered). */
function untilFirstChunk(h: Harness): InstallSnapshot {
  h.heal();
  for (let k = 0; k < 5 * ET && h.pending(isSnapshot).length === 0; k++) {
    h.tick("a");
    h.deliver((m) => m.type !== "snapshot");
  }
  const [chunk] = h.take(isSnapshot);
  expect(chunk?.offset).toBe(0);
  return chunk!;
}

describe("snapshot", () => {
  test("snapshot - compact drops applied entries but keeps the base term and checksum", () => {
    const h = new Harness(["a", "b", "c"]);
    const a = h.elect("a");
    for (let k = 0; k < 5; k++) h.propose("a", `k${k}`);
    h.stabilize();
    const chk5 = a.log.chk(5);
    const meta = h.compact("a", 5, 100, 2);
    expect(meta).toMatchObject({ index: 5, term: 1, chk: chk5, size: 100 });
    expect(meta.config.voters).toEqual(["a", "b", "c"]);
    expect(a.snapshotMeta).toEqual(meta);
    // retainEntries=2 keeps 4 and 5 for slow followers.
    expect(a.log.baseIndex).toBe(3);
    expect(a.log.entry(3)).toBeUndefined();
    expect(a.log.term(3)).toBe(1);
    expect(a.log.entry(4)).toBeDefined();
    // Compacting to an older index changes nothing; past the applied index is a bug.
    expect(h.node("a").compact(4, 1)).toEqual(meta);
    expect(() => a.compact(a.log.lastIndex() + 1, 1)).toThrow(AssertionError);
  });

  test("snapshot - a lagging follower gets a chunked InstallSnapshot, then the entries after it", () => {
    const { h, meta } = laggingFollower();
    const a = h.node("a");
    const c = h.node("c");
    h.heal();
    h.tickAndStabilize(5);
    const chunks = h.delivered.filter(isSnapshot);
    expect(chunks.map((m) => [m.offset, m.length, m.done])).toEqual([
      [0, 10, false],
      [10, 10, false],
      [20, 10, false],
      [30, 5, true],
    ]);
    for (const chunk of chunks) expect(chunk.meta).toEqual(meta);
    // c's Readys: the chunks in order, the snapshot with (or after) the last one.
    const readies = h.readies.get("c")!;
    const offsets = readies.flatMap((r) => r.snapshotChunks.map((chunk) => chunk.offset));
    expect(offsets).toEqual([0, 10, 20, 30]);
    const withSnapshot = readies.findIndex((r) => r.snapshot !== null);
    const lastChunk = readies.findIndex((r) => r.snapshotChunks.some((chunk) => chunk.done));
    expect(withSnapshot).toBeGreaterThanOrEqual(lastChunk);
    expect(readies[withSnapshot]!.snapshot).toEqual(meta);
    // The bytes c assembled are the leader's snapshot.
    const [installed] = h.installed.get("c")!;
    expect(installed!.meta).toEqual(meta);
    expect(installed!.data).toEqual(h.disks.get("a")!.snapshot!.data);
    expect(c.log.baseIndex).toBe(11);
    expect(c.checksumAt(11)).toBe(a.checksumAt(11));
    expect(c.status().commitIndex).toBe(11);
    expect(a.progress.get("c")!.state).toBe("replicate");
    // Replication resumes from the snapshot on.
    h.propose("a", "after");
    h.tickAndStabilize(2);
    expect(sameLogs([a, c], 12)).toBeNull();
    expect(h.applied.get("c")!.map((e) => text(e.data))).toEqual(["after"]);
  });

  test("snapshot - a lost chunk is resent after an election timeout and the transfer completes", () => {
    const { h, meta } = laggingFollower();
    let lost = 0;
    h.dropIf = (m) => isSnapshot(m) && m.offset === 10 && lost++ === 0;
    h.isolated.clear();
    // Run until the chunk at offset 10 is lost.
    for (let k = 0; k < 20 && lost === 0; k++) h.tickAndStabilize(1);
    expect(lost).toBe(1);
    const sentAt = h.node("a").tickCount;
    const resent = () => h.delivered.filter(isSnapshot).filter((m) => m.offset === 10).length;
    expect(resent()).toBe(0);
    while (h.node("a").tickCount < sentAt + ET - 1) h.tickAndStabilize(1);
    expect(resent()).toBe(0); // not before an election timeout
    h.tickAndStabilize(1);
    expect(resent()).toBe(1);
    h.tickAndStabilize(2);
    expect(h.delivered.filter(isSnapshot).map((m) => m.offset)).toEqual([0, 10, 20, 30]);
    expect(h.installed.get("c")!.map((s) => s.meta)).toEqual([meta]);
    expect(h.installed.get("c")![0]!.data).toEqual(h.disks.get("a")!.snapshot!.data);
    expect(h.node("c").status().commitIndex).toBe(11);
  });

  test("snapshot - a chunk out of order is refused and the leader resumes from the follower's offset", () => {
    const { h } = laggingFollower();
    h.stepMessage(untilFirstChunk(h));
    h.deliver(is("snapshotResp", "c", "a"));
    const [second] = h.take(isSnapshot);
    expect(second!.offset).toBe(10);
    // A chunk at 20 arrives before the one at 10: refused, naming the offset c expects.
    h.stepMessage({ ...second!, offset: 20, length: 10, done: false });
    const [refusal] = h.pending(is("snapshotResp", "c", "a"));
    expect(refusal).toMatchObject({ reject: true, nextOffset: 10 });
    // The leader resumes from there.
    h.deliver(is("snapshotResp", "c", "a"));
    expect(h.pending(isSnapshot).map((m) => (m as InstallSnapshot).offset)).toEqual([10]);
    h.stabilize();
    h.tickAndStabilize(2);
    expect(h.installed.get("c")!.length).toBe(1);
    expect(h.installed.get("c")![0]!.data).toEqual(h.disks.get("a")!.snapshot!.data);
    expect(h.node("c").status().commitIndex).toBe(11);
  });

  test("snapshot - compacting again mid-transfer restarts it with the newer snapshot", () => {
    const { h } = laggingFollower();
    h.stepMessage(untilFirstChunk(h));
    h.deliver(is("snapshotResp", "c", "a"));
    expect(h.take(isSnapshot).map((m) => m.offset)).toEqual([10]); // lost
    h.propose("a", "more");
    h.isolate("c");
    h.tickAndStabilize(1, ["a", "b"]);
    const newer = h.compact("a", 12, 22);
    h.heal();
    h.tickAndStabilize(3 * ET);
    expect(h.installed.get("c")!.map((s) => s.meta)).toEqual([newer]);
    expect(h.installed.get("c")![0]!.data).toEqual(h.disks.get("a")!.snapshot!.data);
    expect(h.node("c").status().commitIndex).toBe(12);
  });

  test("snapshot - a follower already past the snapshot acknowledges its commit index", () => {
    const { h, meta } = laggingFollower();
    const b = h.node("b");
    expect(b.status().commitIndex).toBe(11);
    b.step({
      type: "snapshot",
      group: 1,
      from: "a",
      to: "b",
      term: 1,
      meta,
      offset: 0,
      length: CHUNK,
      done: false,
      data: new Uint8Array(CHUNK),
    });
    h.processAll();
    const [reply] = h.take(is("appendResp", "b", "a"));
    expect(reply).toMatchObject({ reject: false, index: 11 });
    expect(h.readies.get("b")!.flatMap((r) => r.snapshotChunks)).toEqual([]);
  });

  test("snapshot - a node restarted after installing a snapshot boots from it", () => {
    const { h, meta } = laggingFollower();
    h.heal();
    h.tickAndStabilize(5);
    const c = h.restart("c");
    expect(c.log.baseIndex).toBe(meta.index);
    expect(c.snapshotMeta).toEqual(meta);
    expect(c.status().commitIndex).toBe(11);
    expect(c.checksumAt(11)).toBe(meta.chk);
    h.propose("a", "later");
    h.tickAndStabilize(3);
    expect(sameLogs([h.node("a"), c], 12)).toBeNull();
    expect(c.status().commitIndex).toBe(12);
  });

  test("snapshot - a leader elected from a snapshot sends that snapshot on", () => {
    const { h } = laggingFollower();
    h.heal();
    h.tickAndStabilize(5);
    // Now c has only the snapshot; make it leader and bring a brand-new-from-nothing d in.
    const c = h.node("c");
    h.isolate("a");
    for (let k = 0; k < 5 * ET && c.status().role !== "leader"; k++) {
      h.tickAndStabilize(1, ["b", "c"]);
      if (h.node("b").status().role === "leader") {
        h.node("b").transferLeadership("c");
        h.stabilize();
      }
    }
    expect(c.status().role).toBe("leader");
    h.add("d");
    expect(c.proposeConfigChange([{ type: "addLearner", node: "d" }]).ok).toBe(true);
    h.tickAndStabilize(5, ["b", "c", "d"]);
    const [installed] = h.installed.get("d")!;
    expect(installed!.meta.index).toBe(11);
    expect(installed!.data).toEqual(h.installed.get("c")![0]!.data);
    expect(sameLogs([c, h.node("d")], 12)).toBeNull();
  });
});
