import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { SeededRandom } from "../../raft/rand.js";
import { sleep, TestCluster } from "./harness.js";

/**
 * The lock and election recipes (src/client/recipes.ts) against real processes. Lock holders
 * run in their own processes and are SIGKILLed at random while holding or waiting; the
 * cluster judges them: each holder makes a fenced write (accepted only if its fencing revision
 * is above the last one written) and, before unlocking, checks that nobody fenced since.
 */

const SEED = 12;
const mod = fileURLToPath(new URL("../../dist/src/mod.js", import.meta.url));
const pad = (n: number) => String(n).padStart(20, "0");

let cluster: TestCluster | null = null;
const children = new Set<ChildProcess>();

afterEach(async () => {
  for (const child of children) child.kill("SIGKILL");
  children.clear();
  await cluster?.stop();
  cluster = null;
});

interface Line {
  readonly worker: number;
  readonly kind: "ACQ" | "FENCE" | "HELD" | "REL";
  readonly revision: number;
  readonly ok: boolean;
}

/** A process that takes the lock, makes its fenced write, holds a little, checks, unlocks. */
function worker(endpoints: string, id: number, lines: Line[], holding: Map<number, number>) {
  const script = `
    const { connect } = await import(${JSON.stringify(mod)});
    const db = connect(${JSON.stringify(endpoints)}, { maxAttempts: 40 });
    const pad = (n) => String(n).padStart(20, "0");
    const say = (kind, rev, ok) => process.stdout.write(kind + " " + rev + " " + ok + "\\n");
    for (;;) {
      const lock = await db.lock("L", { ttl: 2 });
      const rev = lock.revision;
      say("ACQ", rev, true);
      const w = await db.request({ op: "txn",
        compare: [{ key: "fence", target: "value", op: "<", value: pad(rev) }],
        success: [{ op: "put", key: "fence", value: pad(rev) }], failure: [] });
      say("FENCE", rev, w.succeeded);
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 150)));
      const c = await db.request({ op: "txn",
        compare: [{ key: "fence", target: "value", op: "==", value: pad(rev) }],
        success: [], failure: [] });
      say("HELD", rev, c.succeeded);
      await lock.unlock();
      say("REL", rev, true);
    }
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.add(child);
  let buffer = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    let newline = buffer.indexOf("\n");
    while (newline >= 0) {
      const [kind, revision, ok] = buffer.slice(0, newline).split(" ");
      buffer = buffer.slice(newline + 1);
      newline = buffer.indexOf("\n");
      const line = { worker: id, kind, revision: Number(revision), ok: ok === "true" } as Line;
      lines.push(line);
      if (line.kind === "ACQ") holding.set(id, line.revision);
      if (line.kind === "REL") holding.delete(id);
    }
  });
  child.once("exit", () => {
    children.delete(child);
    holding.delete(id);
  });
  return child;
}

describe("recipes - real processes", () => {
  it(`lock - holders SIGKILLed at random never share a fencing revision, and live holders are never overlapped (seed ${SEED})`, async () => {
    cluster = await TestCluster.start(3);
    const endpoints = cluster.nodes.map((n) => n.client).join(",");
    const db = cluster.client();
    await db.put("fence", pad(0));
    const random = new SeededRandom(SEED);
    const lines: Line[] = [];
    const holding = new Map<number, number>();
    const workers = new Map<number, ChildProcess>();
    let next = 0;
    for (; next < 3; next++) workers.set(next, worker(endpoints, next, lines, holding));
    let killedHolding = 0;
    for (let round = 0; round < 8; round++) {
      await sleep(1_000);
      // Holds are short: wait (a while) for one, so that a holder is what gets killed.
      for (let waited = 0; holding.size === 0 && waited < 5_000; waited += 50) await sleep(50);
      // Kill a holder when there is one (else anyone), and start a fresh worker in its place.
      const holders = [...holding.keys()];
      const victim = holders.length > 0 ? random.pick(holders) : random.pick([...workers.keys()]);
      if (holding.has(victim)) killedHolding++;
      workers.get(victim)!.kill("SIGKILL");
      workers.delete(victim);
      workers.set(next, worker(endpoints, next, lines, holding));
      next++;
    }
    await sleep(4_000); // the last victim's lease expires; the others go on
    for (const child of workers.values()) child.kill("SIGKILL");
    const context = `SEED=${SEED}\n${lines.map((l) => `${l.worker} ${l.kind} ${l.revision} ${l.ok}`).join("\n")}`;
    const acquired = lines.filter((l) => l.kind === "ACQ").map((l) => l.revision);
    expect(new Set(acquired).size, context).toBe(acquired.length);
    // Granted in revision order: each new holder's fenced write is above the last one.
    expect(
      lines.filter((l) => l.kind === "FENCE" && !l.ok),
      context,
    ).toEqual([]);
    // Nobody fenced while a live holder held the lock.
    expect(
      lines.filter((l) => l.kind === "HELD" && !l.ok),
      context,
    ).toEqual([]);
    expect(killedHolding, context).toBeGreaterThan(0);
    // The lock was taken again after holders died: their leases expired and freed it.
    const lastAcquired = Math.max(...acquired);
    expect(acquired.length, context).toBeGreaterThan(killedHolding);
    expect(lastAcquired, context).toBeGreaterThan(0);
  });

  it("election - campaign waits for the leader; proclaim, observe; resign hands over to the next candidate", async () => {
    cluster = await TestCluster.start(3);
    const a = cluster.client();
    const b = cluster.client();
    const first = a.election("E", { ttl: 1 });
    const second = b.election("E", { ttl: 1 });
    expect(await first.leader()).toBeNull();
    const won = await first.campaign("a");
    expect(await second.leader()).toEqual({ key: won.key, value: "a", revision: won.revision });
    let secondLeads = false;
    const campaign = second.campaign("b").then(() => {
      secondLeads = true;
    });
    await sleep(300);
    expect(secondLeads).toBe(false);
    expect(await first.proclaim("a2")).toBe(true);
    const observer = b.election("E");
    const controller = new AbortController();
    const seen: (string | null)[] = [];
    const watching = (async () => {
      for await (const leader of observer.observe(controller.signal))
        seen.push(leader?.value ?? null);
    })();
    while (!seen.includes("a2")) await sleep(10);
    await first.resign();
    await campaign;
    expect(secondLeads).toBe(true);
    expect(await first.proclaim("late")).toBe(false);
    expect((await a.election("E").leader())?.value).toBe("b");
    while (!seen.includes("b")) await sleep(10);
    await second.resign();
    while (seen.at(-1) !== null) await sleep(10);
    controller.abort();
    await watching;
    expect(seen.filter((v, k) => v !== seen[k - 1])).toEqual(["a2", "b", null]);
  });

  it("lock - a waiter aborted by its signal leaves the queue; the one behind it waits on for the holder", async () => {
    cluster = await TestCluster.start(3);
    const db = cluster.client();
    const queued = async (n: number) => {
      while ((await db.scan({ prefix: "A/" })).items.length < n) await sleep(10);
    };
    const held = await db.lock("A");
    const controller = new AbortController();
    const aborted = db.lock("A", { signal: controller.signal });
    const abortedResult = aborted.then(
      () => "held",
      (error: Error) => error.name,
    );
    await queued(2);
    let nextHeld = false;
    const next = db.lock("A").then((lock) => {
      nextHeld = true;
      return lock;
    });
    await queued(3);
    controller.abort();
    expect(await abortedResult).toBe("AbortError");
    // The aborted waiter's key is gone; the next one now waits on the holder, not for nothing.
    const left = (await db.scan({ prefix: "A/" })).items.map((item) => item.key);
    expect(left).toHaveLength(2);
    expect(left).toContain(held.key);
    await sleep(300);
    expect(nextHeld).toBe(false);
    await held.unlock();
    const lock = await next;
    expect(lock.revision).toBeGreaterThan(held.revision);
    await lock.unlock();
    expect((await db.scan({ prefix: "A/" })).items).toEqual([]);
  });

  it("election - observe sees every leader change, however quickly they follow each other", async () => {
    cluster = await TestCluster.start(3);
    const candidate = cluster.client().election("F");
    const observer = cluster.client().election("F");
    const controller = new AbortController();
    const seen: (string | null)[] = [];
    const watching = (async () => {
      for await (const leader of observer.observe(controller.signal))
        seen.push(leader?.value ?? null);
    })();
    while (seen.length === 0) await sleep(10);
    // Each round: lead, change the value, step down; nobody waits for the observer.
    const expected: (string | null)[] = [null];
    for (let round = 0; round < 5; round++) {
      await candidate.campaign(`v${round}`);
      expect(await candidate.proclaim(`v${round}b`)).toBe(true);
      await candidate.resign();
      expected.push(`v${round}`, `v${round}b`, null);
    }
    // Completeness, not speed: give the observer ample time to catch up, then compare.
    for (let waited = 0; seen.length < expected.length && waited < 10_000; waited += 10)
      await sleep(10);
    controller.abort();
    await watching;
    expect(seen).toEqual(expected);
  });
});
