import { describe, expect, test } from "vitest";
import { AssertionError } from "../../raft/assert.js";
import { chainChecksum } from "../../raft/checksum.js";
import { RaftLog } from "../../raft/log.js";
import { type AppendEntries, EntryType } from "../../raft/types.js";
import { buildLog, bytes, Harness, is } from "./harness.js";

const ET = 10;

describe("checksum", () => {
  test("checksum - chainChecksum is deterministic and depends on every field", () => {
    const base = chainChecksum(7, 2, 5, EntryType.normal, bytes("x=1"));
    expect(chainChecksum(7, 2, 5, EntryType.normal, bytes("x=1"))).toBe(base);
    expect(base).toBeGreaterThanOrEqual(0);
    expect(base).toBeLessThan(2 ** 32);
    const variants = [
      chainChecksum(8, 2, 5, EntryType.normal, bytes("x=1")),
      chainChecksum(7, 3, 5, EntryType.normal, bytes("x=1")),
      chainChecksum(7, 2, 6, EntryType.normal, bytes("x=1")),
      chainChecksum(7, 2, 5, EntryType.config, bytes("x=1")),
      chainChecksum(7, 2, 5, EntryType.normal, bytes("x=2")),
      chainChecksum(7, 2, 5, EntryType.normal, bytes("")),
    ];
    for (const variant of variants) expect(variant).not.toBe(base);
  });

  test("checksum - equal logs have equal chains; any earlier difference changes every later link", () => {
    const one = buildLog([1, 1, 2, 3]);
    const two = buildLog([1, 1, 2, 3]);
    expect(one.map((e) => e.chk)).toEqual(two.map((e) => e.chk));
    // A log built by appendNew with the same entries has the same chain.
    const log = new RaftLog();
    for (const entry of one) log.appendNew(entry.term, entry.type, entry.data);
    expect(log.lastChk()).toBe(one.at(-1)!.chk);
    // Diverge at index 2: every checksum from 2 on differs.
    const diverged = buildLog([1, 2, 2, 3]);
    expect(diverged[0]!.chk).toBe(one[0]!.chk);
    for (let k = 1; k < 4; k++) expect(diverged[k]!.chk).not.toBe(one[k]!.chk);
  });

  test("checksum - the leader's and followers' chk agree at every index, across leader changes", () => {
    for (const seed of [1, 2, 3]) {
      const h = new Harness(["a", "b", "c"], {}, seed);
      h.elect("a");
      for (let k = 0; k < 5; k++) h.propose("a", `a${k}`);
      h.tickAndStabilize(2);
      // A stale leader writes entries that the next leader overwrites.
      h.isolate("a");
      for (let k = 0; k < 3; k++) h.propose("a", `lost${k}`);
      for (let i = 0; i < 5 * ET && !h.leaders().some((n) => n.id !== "a"); i++) {
        h.tickAndStabilize(1, ["b", "c"]);
      }
      const next = h.leaders().find((n) => n.id !== "a")!;
      for (let k = 0; k < 3; k++) h.propose(next.id, `b${k}`);
      h.heal();
      h.tickAndStabilize(3);
      const last = next.log.lastIndex();
      expect(last, `seed ${seed}`).toBe(10);
      for (let index = 1; index <= last; index++) {
        const chk = next.checksumAt(index);
        for (const id of h.ids)
          expect(h.node(id).checksumAt(index), `seed ${seed} ${id}@${index}`).toBe(chk);
      }
      // The chain a node applied ends at the leader's chk.
      for (const id of h.ids)
        expect(h.applied.get(id)!.at(-1)!.chk, `seed ${seed}`).toBe(next.checksumAt(last));
    }
  });

  test("checksum - a follower rejects an append whose entry has a wrong chk (assertion)", () => {
    const h = new Harness(["a", "b", "c"]);
    h.elect("a");
    h.tickAndStabilize(1);
    h.take();
    h.propose("a", "x=1");
    const [append] = h.take(is("append", "a", "b")) as AppendEntries[];
    const entry = append!.entries[0]!;
    const corrupted: AppendEntries = {
      ...append!,
      entries: [{ ...entry, data: bytes("x=2") }], // payload corrupted in transit
    };
    const b = h.node("b");
    expect(() => b.step(corrupted)).toThrow(AssertionError);
    expect(() => b.step(corrupted)).toThrow(/checksum/);
    expect(b.log.lastIndex()).toBe(1);
    // The genuine message is accepted.
    b.step(append!);
    expect(b.log.lastIndex()).toBe(2);
    expect(b.checksumAt(2)).toBe(h.node("a").checksumAt(2));
    // A re-sent entry it already holds, but with another chk, is a divergent history.
    const divergent: AppendEntries = { ...append!, entries: [{ ...entry, chk: entry.chk ^ 1 }] };
    expect(() => b.step(divergent)).toThrow(/checksum differs/);
  });

  test("checksum - a snapshot carries the chain: the follower continues it from the snapshot's chk", () => {
    const h = new Harness(["a", "b", "c"]);
    const a = h.elect("a");
    h.isolate("c");
    for (let k = 0; k < 4; k++) h.propose("a", `k${k}`);
    h.tickAndStabilize(2, ["a", "b"]);
    const meta = h.compact("a", 5, 16);
    expect(meta.chk).toBe(a.log.chk(5));
    h.heal();
    h.propose("a", "after");
    h.tickAndStabilize(5);
    const c = h.node("c");
    expect(c.log.baseIndex).toBe(5);
    expect(c.checksumAt(5)).toBe(meta.chk);
    expect(c.checksumAt(6)).toBe(a.checksumAt(6));
  });
});
