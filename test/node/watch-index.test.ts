import { describe, expect, test } from "vitest";
import { SeededRandom } from "../../raft/mod.js";
import { matches, WatchIndex, type WatchSpec } from "../../stages/apply/watch-index.js";
import { put } from "./watch-fakes.js";

/** The watch index routes exactly as checking every watch would (seeded, random specs). */

describe("watch index", () => {
  test("routes each event to exactly the watches that match it (seeded)", () => {
    const seed = 4242;
    const random = new SeededRandom(seed);
    const word = () => ["", "a", "ab", "abc", "b", "ba", "é", "😀"][random.int(8)]!;
    const spec = (): WatchSpec => {
      const flags = { prevKv: false, noPut: random.int(5) === 0, noDelete: false };
      switch (random.int(3)) {
        case 0:
          return { key: word() || "a", ...flags };
        case 1:
          return { prefix: word(), ...flags };
        default:
          return {
            start: word() || undefined,
            end: random.int(2) ? `${word()}z` : undefined,
            ...flags,
          };
      }
    };
    for (let round = 0; round < 50; round++) {
      const index = new WatchIndex<{ spec: WatchSpec }>();
      const live = new Set<{ spec: WatchSpec }>();
      for (let k = 0; k < 40; k++) {
        const watch = { spec: spec() };
        index.add(watch);
        live.add(watch);
      }
      for (const watch of [...live])
        if (random.int(3) === 0) {
          index.delete(watch);
          live.delete(watch);
        }
      const changes = Array.from({ length: 20 }, (_, r) => put(r + 1, word() + word() || "k", "v"));
      const routed = index.route(changes);
      for (const watch of live) {
        const want = changes.flatMap((c) => c.events.filter((e) => matches(watch.spec, e)));
        const got = routed.get(watch) ?? [];
        expect(
          got.map((e) => e.kv.modRevision),
          `seed ${seed} round ${round} ${JSON.stringify(watch.spec)}`,
        ).toEqual(want.map((e) => e.kv.modRevision));
      }
      for (const watch of routed.keys()) expect(live.has(watch), `seed ${seed}`).toBe(true);
    }
  });
});
