import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { fastRaft, TestCluster } from "./harness.js";

/**
 * Conformance of live 3-node clusters to the outside contract (../shared/CONTRACT.md §3, §4):
 * result fields of every op, consistency levels, pipelining, ids, and every error code that
 * can be reached from outside. Frame-level checks use a raw `ws` WebSocket so that what is
 * asserted is exactly what the node puts on the wire (the client library would retry, follow
 * leader hints and strip ids).
 */

// ---------------------------------------------------------------- a raw protocol connection

interface Reply {
  readonly id: unknown;
  readonly ok: boolean;
  readonly error?: { code: string; message: string; leader?: string | null };
  readonly [field: string]: unknown;
}

const idKey = (id: unknown) => `${typeof id}:${String(id)}`;

class RawSocket {
  /** Replies to ids no request is waiting for (should stay empty). */
  readonly unmatched: Reply[] = [];
  private readonly waiting = new Map<
    string,
    { resolve: (reply: Reply) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }
  >();
  private readonly nullReplies: Reply[] = [];
  private nullWaiter: ((reply: Reply) => void) | null = null;
  readonly closed: Promise<{ code: number; reason: string }>;
  private isClosed = false;

  private constructor(readonly socket: WebSocket) {
    socket.on("error", () => {}); // a node closing an oversized frame's connection: see `closed`
    socket.on("message", (data, isBinary) => this.onMessage(String(data), isBinary));
    this.closed = new Promise((resolve) =>
      socket.once("close", (code, reason) => {
        this.isClosed = true;
        for (const [key, waiter] of this.waiting) {
          clearTimeout(waiter.timer);
          waiter.reject(new Error(`the connection closed (${code}) before the reply to ${key}`));
        }
        this.waiting.clear();
        resolve({ code, reason: String(reason) });
      }),
    );
  }

  static open(address: string, token?: string, query = ""): Promise<RawSocket> {
    const socket = new WebSocket(`ws://${address}/v1${query}`, {
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      maxPayload: 64 << 20,
    });
    const raw = new RawSocket(socket);
    openSockets.add(raw);
    return new Promise((resolve, reject) => {
      socket.once("open", () => resolve(raw));
      socket.once("unexpected-response", (_request, response) =>
        reject(new Error(`upgrade refused: HTTP ${response.statusCode}`)),
      );
      socket.once("error", reject);
    });
  }

  get open(): boolean {
    return !this.isClosed && this.socket.readyState === WebSocket.OPEN;
  }

  private onMessage(text: string, isBinary: boolean): void {
    const reply = JSON.parse(text) as Reply;
    if (isBinary) throw new Error(`the node answered with a binary frame: ${text}`);
    if (reply.id === null) {
      if (this.nullWaiter) {
        const waiter = this.nullWaiter;
        this.nullWaiter = null;
        waiter(reply);
      } else this.nullReplies.push(reply);
      return;
    }
    const waiter = this.waiting.get(idKey(reply.id));
    if (waiter === undefined) {
      this.unmatched.push(reply);
      return;
    }
    this.waiting.delete(idKey(reply.id));
    clearTimeout(waiter.timer);
    waiter.resolve(reply);
  }

  /** Send one request frame (it carries its own id); resolves with the reply to that id. */
  request(frame: Record<string, unknown>, timeoutMs = 20_000): Promise<Reply> {
    const key = idKey(frame.id);
    if (this.waiting.has(key)) throw new Error(`id ${key} already in flight`);
    const reply = this.expectReply(key, timeoutMs, JSON.stringify(frame).slice(0, 120));
    this.socket.send(JSON.stringify(frame));
    return reply;
  }

  private expectReply(key: string, timeoutMs: number, what: string): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(key);
        reject(new Error(`no reply to ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(key, { resolve, reject, timer });
    });
  }

  /** Send raw bytes or text, as text or binary frame. */
  sendRaw(data: string | Buffer, binary: boolean): void {
    this.socket.send(data, { binary });
  }

  /** The next reply with `id: null` (to a frame that had no usable id). */
  nullReply(timeoutMs = 10_000): Promise<Reply> {
    const queued = this.nullReplies.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no id:null reply within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.nullWaiter = (reply) => {
        clearTimeout(timer);
        resolve(reply);
      };
    });
  }

  close(): void {
    if (
      this.socket.readyState === WebSocket.OPEN ||
      this.socket.readyState === WebSocket.CONNECTING
    )
      this.socket.terminate();
  }
}

const openSockets = new Set<RawSocket>();

function closeSockets(): void {
  for (const socket of openSockets) socket.close();
  openSockets.clear();
}

/** The HTTP status of a WebSocket upgrade to /v1 (101 when it is accepted). */
function upgradeStatus(
  address: string,
  headers: Record<string, string>,
  query = "",
): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://${address}/v1${query}`, { headers });
    socket.once("open", () => {
      socket.terminate();
      resolve(101);
    });
    socket.once("unexpected-response", (_request, response) => {
      resolve(response.statusCode ?? 0);
      socket.terminate();
    });
    socket.once("error", (error) => reject(error));
  });
}

// ---------------------------------------------------------------- the contract's table

/** Result fields per op, exactly as the contract's table lists them. */
const RESULT_FIELDS: Record<string, readonly string[]> = {
  // §5 adds revision (and a key's metadata to get and scan items, more and count to scan).
  put: ["index", "revision"],
  get: ["found", "value", "index", "createRevision", "modRevision", "version", "lease", "revision"],
  delete: ["deleted", "index", "revision"],
  cas: ["succeeded", "value"],
  incr: ["value"],
  scan: ["items", "more", "count", "revision"],
  status: ["name", "role", "term", "leader", "commitIndex", "appliedIndex", "members"],
  members: ["members"],
  "member-add": ["members"],
  "member-remove": ["members"],
  "transfer-leader": ["leader"],
  snapshot: ["index"],
  vcreate: ["index"],
  vput: ["count", "index"], // CONTRACT §6
  vdelete: ["deleted", "index"],
  vsearch: ["hits"],
};

/**
 * Fields the node gives beyond the table (the contract allows more, never less). Listed so that
 * any other difference, a missing field or a new one, is caught.
 */
const EXTRA_FIELDS: Record<string, readonly string[]> = {
  cas: ["index", "revision"],
  incr: ["index", "revision"],
  scan: ["index"],
  // Storage faults (issue #10): docs/raft.md, "Lost entries".
  status: ["followersLostEntries", "catchUpIndex"],
  vsearch: ["index"],
};

function expectSuccess(reply: Reply, op: string, id: unknown): void {
  expect(reply.ok, `${op} failed: ${JSON.stringify(reply.error)}`).toBe(true);
  expect(reply.id).toEqual(id);
  const expected = ["id", "ok", ...RESULT_FIELDS[op]!, ...(EXTRA_FIELDS[op] ?? [])].sort();
  expect(Object.keys(reply).sort(), `fields of ${op}`).toEqual(expected);
}

function expectError(reply: Reply, code: string, id: unknown): void {
  expect(reply.ok, `expected ${code}, got ${JSON.stringify(reply)}`).toBe(false);
  expect(reply.id).toEqual(id);
  expect(reply.error?.code, JSON.stringify(reply.error)).toBe(code);
  expect(typeof reply.error?.message).toBe("string");
}

const isIndex = (value: unknown) => Number.isSafeInteger(value) && (value as number) > 0;

let nextId = 1;
const newId = () => nextId++;

/**
 * After restarts: wait until every live node's peer links to the other live nodes are up (a
 * node in reconnect backoff cannot send a ReadIndex or forward a write to a peer for a while).
 */
async function waitForLinks(cluster: TestCluster): Promise<void> {
  const live = new Set(cluster.nodes.filter((n) => n.process !== null).map((n) => n.name));
  for (const name of live) {
    await cluster.waitForHealth(name, (h) =>
      (h.peers as { name: string; up: boolean }[]).every((p) => !live.has(p.name) || p.up),
    );
  }
}

async function health(cluster: TestCluster, name: string) {
  const h = await cluster.health(name);
  if (h === null) throw new Error(`${name} is not answering /health`);
  return h;
}

// ============================================================== A: a default 3-node cluster

describe("conformance - ops, result fields, consistency, pipelining, ids (3 nodes)", () => {
  let cluster: TestCluster;
  let leader: string;
  let follower: string;

  beforeAll(async () => {
    cluster = await TestCluster.start(3);
    leader = await cluster.waitForLeader();
    follower = cluster.nodes.find((n) => n.name !== leader)!.name;
  });

  afterAll(async () => {
    closeSockets();
    await cluster?.stop();
  });

  it("conformance - put, get, delete, cas, incr give exactly the contract's fields (leader and through a follower)", async () => {
    for (const name of [leader, follower]) {
      const raw = await RawSocket.open(cluster.node(name).client);
      const k = (suffix: string) => `f/${name}/${suffix}`;
      let id = newId();
      const put = await raw.request({ id, op: "put", key: k("a"), value: "1" });
      expectSuccess(put, "put", id);
      expect(isIndex(put.index)).toBe(true);

      id = newId();
      const got = await raw.request({ id, op: "get", key: k("a") });
      expectSuccess(got, "get", id);
      expect(got).toMatchObject({ found: true, value: "1" });
      expect(got.index as number).toBeGreaterThanOrEqual(put.index as number);

      id = newId();
      const missing = await raw.request({ id, op: "get", key: k("none") });
      expectSuccess(missing, "get", id);
      expect(missing).toMatchObject({ found: false, value: null });
      expect(isIndex(missing.index)).toBe(true);

      id = newId();
      const casOk = await raw.request({ id, op: "cas", key: k("a"), expect: "1", value: "2" });
      expectSuccess(casOk, "cas", id);
      expect(casOk).toMatchObject({ succeeded: true, value: "2" });
      id = newId();
      const casNo = await raw.request({ id, op: "cas", key: k("a"), expect: "1", value: "3" });
      expectSuccess(casNo, "cas", id);
      expect(casNo).toMatchObject({ succeeded: false, value: "2" });
      id = newId();
      const casAbsent = await raw.request({ id, op: "cas", key: k("c"), expect: null, value: "x" });
      expectSuccess(casAbsent, "cas", id);
      expect(casAbsent).toMatchObject({ succeeded: true, value: "x" });
      id = newId();
      const casPresent = await raw.request({
        id,
        op: "cas",
        key: k("c"),
        expect: null,
        value: "y",
      });
      expectSuccess(casPresent, "cas", id);
      expect(casPresent).toMatchObject({ succeeded: false, value: "x" });
      id = newId();
      const casNone = await raw.request({ id, op: "cas", key: k("n"), expect: "v", value: "w" });
      expectSuccess(casNone, "cas", id);
      expect(casNone).toMatchObject({ succeeded: false, value: null });

      id = newId();
      const incr = await raw.request({ id, op: "incr", key: k("ctr"), delta: 5 });
      expectSuccess(incr, "incr", id);
      expect(incr.value).toBe(5);
      id = newId();
      const decr = await raw.request({ id, op: "incr", key: k("ctr"), delta: -7 });
      expectSuccess(decr, "incr", id);
      expect(decr.value).toBe(-2);
      id = newId();
      const asString = await raw.request({ id, op: "get", key: k("ctr") });
      expect(asString.value).toBe("-2"); // stored as its decimal string

      id = newId();
      const deleted = await raw.request({ id, op: "delete", key: k("a") });
      expectSuccess(deleted, "delete", id);
      expect(deleted.deleted).toBe(true);
      expect(deleted.index as number).toBeGreaterThan(put.index as number);
      id = newId();
      const notDeleted = await raw.request({ id, op: "delete", key: k("a") });
      expectSuccess(notDeleted, "delete", id);
      expect(notDeleted.deleted).toBe(false);
      id = newId();
      const gone = await raw.request({ id, op: "get", key: k("a") });
      expect(gone).toMatchObject({ ok: true, found: false, value: null });
      expect(raw.unmatched).toEqual([]);
    }
  });

  it("conformance - scan: items in key order (UTF-8 bytes) with prefix, start/end and limit", async () => {
    const client = cluster.client([follower]);
    const keys = [
      "sc/b",
      "sc/a",
      "sc/😀", // F0 9F 98 80: after U+FF5A in UTF-8 order, before it in UTF-16 order
      "sc/ｚ", // EF BD 9A
      "sc/é",
      "sc/aa",
      "sc/a/1",
      "sc/c",
      "sc/d",
    ];
    for (const key of keys) await client.put(key, `v:${key}`);
    await client.put("sb/x", "outside");
    await client.put("sd/x", "outside");
    const utf8Order = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect(utf8Order.indexOf("sc/ｚ")).toBeLessThan(utf8Order.indexOf("sc/😀"));

    const raw = await RawSocket.open(cluster.node(leader).client);
    const scan = async (range: Record<string, unknown>) => {
      const id = newId();
      const reply = await raw.request({ id, op: "scan", ...range });
      expectSuccess(reply, "scan", id);
      const items = reply.items as { key: string; value: string }[];
      for (const item of items)
        expect(Object.keys(item).sort()).toEqual([
          "createRevision",
          "key",
          "lease",
          "modRevision",
          "value",
          "version",
        ]);
      return items;
    };
    const all = await scan({ prefix: "sc/" });
    expect(all.map((item) => item.key)).toEqual(utf8Order);
    expect(all.every((item) => item.value === `v:${item.key}`)).toBe(true);
    expect((await scan({ prefix: "sc/", limit: 3 })).map((i) => i.key)).toEqual(
      utf8Order.slice(0, 3),
    );
    expect((await scan({ prefix: "sc/a" })).map((i) => i.key)).toEqual(["sc/a", "sc/a/1", "sc/aa"]);
    // [start, end): end is exclusive, as etcd's range_end.
    expect((await scan({ start: "sc/b", end: "sc/d" })).map((i) => i.key)).toEqual([
      "sc/b",
      "sc/c",
    ]);
    expect((await scan({ start: "sc/", end: "sd" })).map((i) => i.key)).toEqual(utf8Order);
    expect((await scan({ start: "sc/ｚ", end: "sc0" })).map((i) => i.key)).toEqual([
      "sc/ｚ",
      "sc/😀",
    ]);
    expect((await scan({ start: "sc/c", end: "sd", limit: 1 })).map((i) => i.key)).toEqual([
      "sc/c",
    ]);
    expect(await scan({ prefix: "nothing-here/" })).toEqual([]);
    // Reserved keys (the session table) never show up in a scan from the start.
    const everything = await scan({});
    expect(everything.every((item) => item.key.charCodeAt(0) !== 0)).toBe(true);
  });

  it("conformance - get and scan at each consistency level on every node", async () => {
    const writer = cluster.client([follower]);
    const put = await writer.put("cl/key", "fresh");
    const other = await writer.put("cl/other", "also");
    for (const node of cluster.nodes) {
      const raw = await RawSocket.open(node.client);
      for (const consistency of ["linearizable", "lease"]) {
        // Linearizable and lease reads are never stale: they see every acknowledged write.
        let id = newId();
        const got = await raw.request({ id, op: "get", key: "cl/key", consistency });
        expectSuccess(got, "get", id);
        expect(got, `${consistency} get at ${node.name}`).toMatchObject({
          found: true,
          value: "fresh",
        });
        expect(got.index as number).toBeGreaterThanOrEqual(put.index);
        id = newId();
        const scanned = await raw.request({ id, op: "scan", prefix: "cl/", consistency });
        expectSuccess(scanned, "scan", id);
        expect(scanned.items, `${consistency} scan at ${node.name}`).toMatchObject([
          { key: "cl/key", value: "fresh" },
          { key: "cl/other", value: "also" },
        ]);
      }
      // A stale read is served by the node itself: once it has applied the write, it sees it.
      await cluster.waitForHealth(node.name, (h) => Number(h.appliedIndex) >= other.index);
      let id = newId();
      const stale = await raw.request({ id, op: "get", key: "cl/key", consistency: "stale" });
      expectSuccess(stale, "get", id);
      expect(stale, `stale get at ${node.name}`).toMatchObject({ found: true, value: "fresh" });
      id = newId();
      const staleScan = await raw.request({
        id,
        op: "scan",
        prefix: "cl/",
        consistency: "stale",
      });
      expectSuccess(staleScan, "scan", id);
      expect(staleScan.items).toHaveLength(2);
    }
  });

  it("conformance - status and members give exactly the contract's fields on every node", async () => {
    const names = cluster.nodes.map((n) => n.name).sort();
    const leaderNow = await cluster.waitForLeader();
    for (const node of cluster.nodes) {
      const raw = await RawSocket.open(node.client);
      let id = newId();
      const status = await raw.request({ id, op: "status" });
      expectSuccess(status, "status", id);
      expect(status.name).toBe(node.name);
      expect(status.role).toBe(node.name === leaderNow ? "leader" : "follower");
      expect(Number.isSafeInteger(status.term) && (status.term as number) > 0).toBe(true);
      expect(status.leader).toBe(leaderNow);
      expect(isIndex(status.commitIndex)).toBe(true);
      expect(isIndex(status.appliedIndex)).toBe(true);
      expect(status.appliedIndex as number).toBeLessThanOrEqual(status.commitIndex as number);
      expect([...(status.members as string[])].sort()).toEqual(names);

      // Client addresses of bootstrap members are learned from peers' hellos: wait for them.
      let members: Record<string, unknown>[] = [];
      for (let attempt = 0; attempt < 100; attempt++) {
        id = newId();
        const reply = await raw.request({ id, op: "members" });
        expectSuccess(reply, "members", id);
        members = reply.members as Record<string, unknown>[];
        if (members.every((m) => m.client !== null)) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const expected = cluster.nodes
        .map((n) => ({ name: n.name, peer: n.peer, client: n.client, voter: true }))
        .sort((a, b) => a.name.localeCompare(b.name));
      for (const member of members)
        expect(Object.keys(member).sort()).toEqual(["client", "name", "peer", "voter"]);
      expect(
        [...members].sort((a, b) => String(a.name).localeCompare(String(b.name))),
        `members at ${node.name}`,
      ).toEqual(expected);
    }
  });

  it("conformance - snapshot gives the index of the snapshot taken", async () => {
    const client = cluster.client([follower]);
    const last = await client.put("snap/k", "v");
    for (const name of [follower, leader]) {
      await cluster.waitForHealth(name, (h) => Number(h.appliedIndex) >= last.index);
      const raw = await RawSocket.open(cluster.node(name).client);
      const id = newId();
      const reply = await raw.request({ id, op: "snapshot" });
      expectSuccess(reply, "snapshot", id);
      expect(reply.index as number, `snapshot at ${name}`).toBeGreaterThanOrEqual(last.index);
    }
  });

  it("conformance - pipelining: 500 requests in flight on one connection, answered and matched by id", async () => {
    const seeder = cluster.client([leader]);
    await Promise.all(Array.from({ length: 50 }, (_, k) => seeder.put(`pl/seed/${k}`, `s${k}`)));
    for (const name of [follower, leader]) {
      const raw = await RawSocket.open(cluster.node(name).client);
      const checks: Promise<void>[] = [];
      for (let k = 0; k < 500; k++) {
        const tag = `${name}/${k}`;
        switch (k % 4) {
          case 0: {
            const id = 1_000_000 + k;
            checks.push(
              raw.request({ id, op: "put", key: `pl/${tag}`, value: `v${k}` }).then((r) => {
                expectSuccess(r, "put", id);
              }),
            );
            break;
          }
          case 1: {
            const id = `get-${tag}`;
            checks.push(
              raw.request({ id, op: "get", key: `pl/seed/${k % 50}` }).then((r) => {
                expectSuccess(r, "get", id);
                expect(r.value).toBe(`s${k % 50}`);
              }),
            );
            break;
          }
          case 2: {
            const id = 2_000_000 + k;
            checks.push(
              raw.request({ id, op: "incr", key: `pl/ctr/${tag}`, delta: k }).then((r) => {
                expectSuccess(r, "incr", id);
                expect(r.value).toBe(k);
              }),
            );
            break;
          }
          default: {
            const id = `status-${tag}`;
            checks.push(
              raw.request({ id, op: "status" }).then((r) => {
                expectSuccess(r, "status", id);
                expect(r.name).toBe(name);
              }),
            );
          }
        }
      }
      await Promise.all(checks);
      expect(raw.unmatched).toEqual([]);
      const id = newId();
      const scanned = await raw.request({ id, op: "scan", prefix: `pl/${name}/` });
      expect((scanned.items as unknown[]).length).toBe(125);
    }
  });

  it("conformance - the reply's id is always the request's id (numbers and strings, success and error)", async () => {
    const raw = await RawSocket.open(cluster.node(follower).client);
    const ids = [0, -1, 42, 1.5, 2 ** 53 - 1, "", "7", "ü😀", "x".repeat(256)];
    for (const id of ids) {
      expectSuccess(await raw.request({ id, op: "status" }), "status", id);
      expectSuccess(await raw.request({ id, op: "put", key: "id/k", value: "v" }), "put", id);
      expectError(await raw.request({ id, op: "no-such-op" }), "BAD_REQUEST", id);
      expectError(await raw.request({ id, op: "get", key: 1 }), "BAD_REQUEST", id);
    }
    // 1 and "1" are different ids: both in flight at once, each gets its own answer.
    const [numeric, text] = await Promise.all([
      raw.request({ id: 1, op: "get", key: "id/k" }),
      raw.request({ id: "1", op: "status" }),
    ]);
    expectSuccess(numeric, "get", 1);
    expectSuccess(text, "status", "1");
    expect(raw.unmatched).toEqual([]);
  });

  it("conformance - BAD_REQUEST for invalid JSON, binary frames, junk and wrong types; the connection stays usable", async () => {
    const raw = await RawSocket.open(cluster.node(follower).client);
    const usable = async () => {
      const id = newId();
      expectSuccess(await raw.request({ id, op: "status" }), "status", id);
    };
    const nullReplyIsBadRequest = async () => {
      const reply = await raw.nullReply();
      expect(reply.ok).toBe(false);
      expect(reply.error?.code).toBe("BAD_REQUEST");
      await usable();
    };
    for (const text of ["{", "not json", "", "[1,2]", "null", '{"op":"status"}', '"x"']) {
      raw.sendRaw(text, false);
      await nullReplyIsBadRequest();
    }
    // Binary frames: not part of the protocol, answered, not fatal.
    raw.sendRaw(Buffer.from(JSON.stringify({ id: 1, op: "status" })), true);
    await nullReplyIsBadRequest();
    raw.sendRaw(Buffer.from([0xff, 0x00, 0xfe, 0x80, 0x13, 0x37]), true);
    await nullReplyIsBadRequest();
    // Junk text (valid UTF-8, not a frame).
    for (const junk of ["\u0000\u0001\u0002", "😀😀😀", "}{", "\\u0000", "1e400", "\t\n"]) {
      raw.sendRaw(junk, false);
      await nullReplyIsBadRequest();
    }
    // Well-formed frames with wrong types or missing fields: BAD_REQUEST with the id.
    const wrong: Record<string, unknown>[] = [
      { op: "put", key: "k" },
      { op: "put", key: 1, value: "v" },
      { op: "get", key: "k", consistency: "strong" },
      { op: "cas", key: "k", value: "v" },
      { op: "incr", key: "k", delta: 1.5 },
      { op: "scan", limit: 0 },
      { op: "member-add", name: "n9", peer: "nope", client: "h:1" },
      { op: "transfer-leader" },
      { op: "put", key: "\u0000s:forged", value: "v" },
      { op: "put", key: "k", value: "\ud800" },
      { op: "put", key: "k", value: "v", session: "s" },
    ];
    for (const frame of wrong) {
      const id = newId();
      expectError(await raw.request({ id, ...frame }), "BAD_REQUEST", id);
    }
    // incr of a value that is not an integer.
    let id = newId();
    expectSuccess(await raw.request({ id, op: "put", key: "br/n", value: "abc" }), "put", id);
    id = newId();
    expectError(await raw.request({ id, op: "incr", key: "br/n", delta: 1 }), "BAD_REQUEST", id);
    id = newId();
    expect(await raw.request({ id, op: "get", key: "br/n" })).toMatchObject({ value: "abc" });
    expect(raw.open).toBe(true);
    await usable();
  });

  /**
   * Two clients whose session ids differ (here only by a lone surrogate, which has no UTF-8
   * form) are two sessions: an ok reply to a write means it was applied. Refusing such an id
   * with BAD_REQUEST is fine too; acknowledging a write that is never applied is not.
   */
  it("conformance - distinct session ids are distinct sessions: an acknowledged session write is applied", async () => {
    const raw = await RawSocket.open(cluster.node(leader).client);
    const writes = [
      { key: "ss/first", value: "a", session: "\ud800" },
      { key: "ss/second", value: "b", session: "\udbff" },
      { key: "ss/third", value: "c", session: "x\udc00" },
    ];
    for (const write of writes) {
      const id = newId();
      const reply = await raw.request({ id, op: "put", ...write, seq: 1 });
      if (!reply.ok) {
        expectError(reply, "BAD_REQUEST", id);
        continue;
      }
      const readId = newId();
      const got = await raw.request({ id: readId, op: "get", key: write.key });
      expect(
        got.value,
        `put ${write.key} in session ${JSON.stringify(write.session)} was answered ${JSON.stringify(reply)}`,
      ).toBe(write.value);
    }
  });

  it("conformance - TOO_LARGE for keys over 4 KiB and values over 1 MiB (UTF-8 bytes); the largest legal ones round-trip", async () => {
    const raw = await RawSocket.open(cluster.node(follower).client);
    const key1365 = "€".repeat(1365); // 4095 bytes
    const key1366 = "€".repeat(1366); // 4098 bytes, 1366 UTF-16 units
    let id = newId();
    expectError(await raw.request({ id, op: "put", key: key1366, value: "v" }), "TOO_LARGE", id);
    id = newId();
    expectError(await raw.request({ id, op: "get", key: key1366 }), "TOO_LARGE", id);
    id = newId();
    expectSuccess(await raw.request({ id, op: "put", key: key1365, value: "v" }), "put", id);
    id = newId();
    expect(await raw.request({ id, op: "get", key: key1365 })).toMatchObject({ value: "v" });

    const valueMax = "€".repeat(349_525); // 1,048,575 bytes
    const valueOver = "€".repeat(349_526); // 1,048,578 bytes
    id = newId();
    expectError(
      await raw.request({ id, op: "put", key: "tl/v", value: valueOver }),
      "TOO_LARGE",
      id,
    );
    id = newId();
    expectError(
      await raw.request({ id, op: "put", key: "tl/v", value: "x".repeat((1 << 20) + 1) }),
      "TOO_LARGE",
      id,
    );
    id = newId();
    expect(await raw.request({ id, op: "get", key: "tl/v" })).toMatchObject({ found: false });
    // Through a follower (forwarded to the leader) and read back on every node.
    id = newId();
    const put = await raw.request({ id, op: "put", key: "tl/v", value: valueMax });
    expectSuccess(put, "put", id);
    for (const node of cluster.nodes) {
      await cluster.waitForHealth(node.name, (h) => Number(h.appliedIndex) >= Number(put.index));
      const reader = await RawSocket.open(node.client);
      id = newId();
      const got = await reader.request({ id, op: "get", key: "tl/v", consistency: "stale" });
      expect(got.value === valueMax, `the 1 MiB value at ${node.name}`).toBe(true);
      reader.close();
    }
    // A value that is legal in size but doubles when escaped in JSON still fits the frame limit.
    id = newId();
    expectSuccess(
      await raw.request({ id, op: "put", key: "tl/q", value: '"'.repeat(1 << 20) }),
      "put",
      id,
    );
    expect(raw.open).toBe(true);
  });

  it("conformance - a frame over the transport limit closes that connection with 1009; the node stays up", async () => {
    const target = cluster.node(follower);
    const bystander = await RawSocket.open(target.client);
    const raw = await RawSocket.open(target.client);
    // 3 MiB: more than the max value and key twice plus the envelope.
    raw.sendRaw(
      JSON.stringify({ id: 1, op: "put", key: "big", value: "x".repeat(3 << 20) }),
      false,
    );
    const { code } = await raw.closed;
    // The node is up, the other connection on it is untouched, and a new one works.
    expect((await fetch(`http://${target.client}/health`)).status).toBe(200);
    let id = newId();
    expectSuccess(await bystander.request({ id, op: "status" }), "status", id);
    const fresh = await RawSocket.open(target.client);
    id = newId();
    expectSuccess(await fresh.request({ id, op: "put", key: "after-big", value: "ok" }), "put", id);
    expect(code, "close code of the oversized frame's connection").toBe(1009);
  });

  it("conformance - a text frame that is not UTF-8 closes only that connection", async () => {
    const target = cluster.node(follower);
    const bystander = await RawSocket.open(target.client);
    const raw = await RawSocket.open(target.client);
    // RFC 6455 §8.1: invalid UTF-8 in a text frame fails the connection.
    raw.sendRaw(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), false);
    await raw.closed;
    expect((await fetch(`http://${target.client}/health`)).status).toBe(200);
    const id = newId();
    expectSuccess(await bystander.request({ id, op: "status" }), "status", id);
  });

  /** The contract's vector ops with their result fields, and NOT_FOUND for a collection. */
  it("conformance - vector ops: vcreate, vput, vsearch, vdelete fields; NOT_FOUND for an unknown collection", async () => {
    const raw = await RawSocket.open(cluster.node(follower).client);
    let id = newId();
    const missing = await raw.request({
      id,
      op: "vsearch",
      collection: "no-such-collection",
      vector: [1, 0],
      k: 1,
    });
    expectError(missing, "NOT_FOUND", id);
    id = newId();
    expectError(
      await raw.request({ id, op: "vput", collection: "no-such", key: "a", vector: [1, 0] }),
      "NOT_FOUND",
      id,
    );
    for (const metric of ["l2", "cosine", "ip"]) {
      id = newId();
      const created = await raw.request({
        id,
        op: "vcreate",
        collection: `vc-${metric}`,
        dim: 2,
        metric,
      });
      expectSuccess(created, "vcreate", id);
      expect(isIndex(created.index)).toBe(true);
    }
    const vectors: [string, number[], Record<string, unknown>][] = [
      ["a", [1, 0], { tag: "x" }],
      ["b", [0, 1], { tag: "y" }],
      ["c", [0.9, 0.1], { tag: "z", n: 3 }],
    ];
    let last = 0;
    for (const [key, vector, meta] of vectors) {
      id = newId();
      const put = await raw.request({ id, op: "vput", collection: "vc-l2", key, vector, meta });
      expectSuccess(put, "vput", id);
      expect(isIndex(put.index)).toBe(true);
      last = put.index as number;
    }
    await cluster.waitForHealth(follower, (h) => Number(h.appliedIndex) >= last);
    for (const consistency of ["linearizable", "lease", "stale"]) {
      id = newId();
      const found = await raw.request({
        id,
        op: "vsearch",
        collection: "vc-l2",
        vector: [1, 0],
        k: 2,
        consistency,
      });
      expectSuccess(found, "vsearch", id);
      const hits = found.hits as Record<string, unknown>[];
      for (const hit of hits) expect(Object.keys(hit).sort()).toEqual(["key", "meta", "score"]);
      // Best first: a (distance 0), then c.
      expect(
        hits.map((hit) => hit.key),
        consistency,
      ).toEqual(["a", "c"]);
      expect(hits[0]!.meta).toEqual({ tag: "x" });
      expect(hits[1]!.meta).toEqual({ tag: "z", n: 3 });
      expect(typeof hits[0]!.score).toBe("number");
    }
    id = newId();
    const dimMismatch = await raw.request({
      id,
      op: "vput",
      collection: "vc-l2",
      key: "d",
      vector: [1],
    });
    expectError(dimMismatch, "BAD_REQUEST", id);
    id = newId();
    const vdelete = await raw.request({ id, op: "vdelete", collection: "vc-l2", key: "a" });
    expectSuccess(vdelete, "vdelete", id);
    expect(vdelete.deleted).toBe(true);
    id = newId();
    const again = await raw.request({ id, op: "vdelete", collection: "vc-l2", key: "a" });
    expectSuccess(again, "vdelete", id);
    expect(again.deleted).toBe(false);
    id = newId();
    const after = await raw.request({
      id,
      op: "vsearch",
      collection: "vc-l2",
      vector: [1, 0],
      k: 5,
    });
    expect((after.hits as { key: string }[]).map((hit) => hit.key)).toEqual(["c", "b"]);
  });

  // Last in this describe: it moves the leadership.
  it("conformance - transfer-leader gives { leader } naming the new leader", async () => {
    const from = await cluster.waitForLeader();
    const to = cluster.nodes.find((n) => n.name !== from)!.name;
    const raw = await RawSocket.open(cluster.node(from).client);
    const id = newId();
    const reply = await raw.request({ id, op: "transfer-leader", to });
    expectSuccess(reply, "transfer-leader", id);
    expect(reply.leader).toBe(to);
    expect(await cluster.waitForLeader()).toBe(to);
    const id2 = newId();
    expectError(
      await raw.request({ id: id2, op: "transfer-leader", to: "nobody" }),
      "BAD_REQUEST",
      id2,
    );
  });
});

// ============================================ B: forwarding off, auth on, a tiny inflight bound

describe("conformance - NOT_LEADER, UNAUTHORIZED, OVERLOADED, CONFLICT (3 nodes)", () => {
  const auth = { clientToken: "client-token", adminToken: "admin-token" };
  const inflightBound = 8;
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await TestCluster.start(3, {
      forwarding: false,
      auth,
      limits: { maxInflightPerConnection: inflightBound },
    });
  });

  afterAll(async () => {
    closeSockets();
    await cluster?.stop();
  });

  it("conformance - with forwarding off a follower answers NOT_LEADER with the leader's client address", async () => {
    const leader = await cluster.waitForLeader();
    const leaderClient = cluster.node(leader).client;
    for (const follower of cluster.nodes.filter((n) => n.name !== leader)) {
      const raw = await RawSocket.open(follower.client, auth.adminToken);
      const frames: Record<string, unknown>[] = [
        { op: "put", key: "nl/k", value: "v" },
        { op: "delete", key: "nl/k" },
        { op: "cas", key: "nl/k", expect: null, value: "v" },
        { op: "incr", key: "nl/c", delta: 1 },
        { op: "put", key: "nl/k", value: "v", session: "nl", seq: 1 },
        { op: "transfer-leader", to: follower.name },
        { op: "member-remove", name: "n-unknown" },
        { op: "get", key: "nl/k" },
        { op: "get", key: "nl/k", consistency: "lease" },
        { op: "scan", prefix: "nl/" },
      ];
      for (const frame of frames) {
        const id = newId();
        const reply = await raw.request({ id, ...frame });
        expectError(reply, "NOT_LEADER", id);
        expect(reply.error?.leader, `${frame.op} at ${follower.name}`).toBe(leaderClient);
      }
      // Ops every node serves itself are still answered by the follower.
      let id = newId();
      expectSuccess(await raw.request({ id, op: "status" }), "status", id);
      id = newId();
      expectSuccess(
        await raw.request({ id, op: "get", key: "nl/k", consistency: "stale" }),
        "get",
        id,
      );
    }
    // NOT_LEADER promised nothing was done.
    const client = cluster.client([leader], { token: auth.clientToken });
    expect((await client.get("nl/k")).found).toBe(false);
    expect((await client.get("nl/c")).found).toBe(false);
    // The client library follows the hint to the leader.
    const follower = cluster.nodes.find((n) => n.name !== leader)!.name;
    const following = cluster.client([follower, leader], { token: auth.clientToken });
    expect((await following.put("nl/k", "via hint")).index).toBeGreaterThan(0);
    expect((await client.get("nl/k")).value).toBe("via hint");
  });

  it("conformance - UNAUTHORIZED: no or a wrong token is refused at the upgrade; the client token cannot use admin ops", async () => {
    const address = cluster.node("n1").client;
    expect(await upgradeStatus(address, {})).toBe(401);
    expect(await upgradeStatus(address, { authorization: "Bearer wrong" })).toBe(401);
    expect(await upgradeStatus(address, { authorization: `Bearer ${auth.clientToken}` })).toBe(101);
    expect(await upgradeStatus(address, {}, `?token=${auth.clientToken}`)).toBe(101);
    expect(await upgradeStatus(address, {}, "?token=wrong")).toBe(401);
    expect((await fetch(`http://${address}/health`)).status).toBe(200);

    const leader = await cluster.waitForLeader();
    const user = await RawSocket.open(cluster.node(leader).client, auth.clientToken);
    const adminFrames: Record<string, unknown>[] = [
      { op: "member-add", name: "n9", peer: "127.0.0.1:9", client: "127.0.0.1:9" },
      { op: "member-remove", name: "n3" },
      { op: "transfer-leader", to: "n2" },
      { op: "snapshot" },
    ];
    for (const frame of adminFrames) {
      const id = newId();
      expectError(await user.request({ id, ...frame }), "UNAUTHORIZED", id);
    }
    let id = newId();
    expectSuccess(await user.request({ id, op: "put", key: "au/k", value: "v" }), "put", id);
    id = newId();
    const members = await user.request({ id, op: "members" });
    expectSuccess(members, "members", id);
    expect((members.members as unknown[]).length).toBe(3); // the refused member-add did nothing

    // The token may come in the URL; the admin token may do everything.
    const admin = await RawSocket.open(
      cluster.node(leader).client,
      undefined,
      `?token=${auth.adminToken}`,
    );
    id = newId();
    expectSuccess(await admin.request({ id, op: "snapshot" }), "snapshot", id);
  });

  it("conformance - OVERLOADED past the per-connection in-flight bound; refused writes are not applied", async () => {
    const leader = await cluster.waitForLeader();
    const raw = await RawSocket.open(cluster.node(leader).client, auth.clientToken);
    const count = 200;
    const replies = await Promise.all(
      Array.from({ length: count }, (_, k) =>
        raw.request({ id: k, op: "put", key: `ov/${k}`, value: `v${k}` }),
      ),
    );
    const overloaded = replies.filter((r) => !r.ok && r.error?.code === "OVERLOADED");
    const acked = replies.filter((r) => r.ok);
    expect(
      replies.filter((r) => !r.ok && r.error?.code !== "OVERLOADED"),
      "no other outcome",
    ).toEqual([]);
    expect(overloaded.length, "200 pipelined puts against a bound of 8").toBeGreaterThan(0);
    expect(acked.length).toBeGreaterThanOrEqual(inflightBound);
    expect(raw.open).toBe(true);
    // OVERLOADED promises nothing was done; ok promises it was.
    const reader = cluster.client([leader], { token: auth.clientToken });
    const { items } = await reader.scan({ prefix: "ov/" });
    const stored = new Set(items.map((item) => item.key));
    for (const reply of replies)
      expect(stored.has(`ov/${reply.id}`), `ov/${reply.id}: ${JSON.stringify(reply)}`).toBe(
        reply.ok,
      );
  });

  // Last in this describe: the first change stays in flight until the cluster stops.
  it("conformance - CONFLICT for a membership change while another is in progress", async () => {
    const leader = await cluster.waitForLeader();
    const admin = await RawSocket.open(cluster.node(leader).client, auth.adminToken);
    // Pipelined on one connection: the second and third reach the leader while the first is
    // being committed (CONTRACT §7: CONFLICT only then). n9 never starts.
    const [addId, secondId, removeId] = [newId(), newId(), newId()];
    const replies = await Promise.all([
      admin.request({
        id: addId,
        op: "member-add",
        name: "n9",
        peer: "127.0.0.1:9",
        client: "127.0.0.1:9",
      }),
      admin.request({
        id: secondId,
        op: "member-add",
        name: "n8",
        peer: "127.0.0.1:8",
        client: "127.0.0.1:8",
      }),
      admin.request({ id: removeId, op: "member-remove", name: "n3" }),
    ]);
    expect(replies[0]!.ok, JSON.stringify(replies[0])).toBe(true);
    expectError(replies[1]!, "CONFLICT", secondId);
    expectError(replies[2]!, "CONFLICT", removeId);
    // CONFLICT promised nothing was done: n9 is in (a learner until it catches up), n8 is not,
    // n3 still votes.
    const observer = cluster.client([leader], { token: auth.adminToken });
    const members = await observer.members();
    expect(members.map((m) => m.name).sort()).toEqual(["n1", "n2", "n3", "n9"]);
    expect(
      members
        .filter((m) => m.voter)
        .map((m) => m.name)
        .sort(),
    ).toEqual(["n1", "n2", "n3"]);
  });
});

// ================================== C: no quorum, the leader cannot step down (checkQuorum off)

describe("conformance - no quorum: TIMEOUT for what may be in the log, UNAVAILABLE for what is not", () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await TestCluster.start(3, {
      raft: { ...fastRaft, checkQuorum: false },
      limits: { requestTimeoutMs: 1_000 },
    });
  });

  afterAll(async () => {
    closeSockets();
    await cluster?.stop();
  });

  /**
   * The contract: "Every code but TIMEOUT promises that nothing was done: a request that may
   * have reached the Raft log and whose fate the node does not know is answered TIMEOUT, never
   * UNAVAILABLE." Without checkQuorum a leader cut off from both followers keeps leading: it
   * appends every write to its log and cannot commit it, so TIMEOUT is the only honest answer.
   */
  it("conformance - a leader without a quorum answers writes TIMEOUT; they commit once a follower is back", async () => {
    const leader = await cluster.waitForLeader();
    const followers = cluster.nodes.filter((n) => n.name !== leader).map((n) => n.name);
    const client = cluster.client([leader]);
    await client.put("nq/base", "before");
    for (const name of followers) await cluster.kill(name, "SIGKILL");
    expect((await health(cluster, leader)).role).toBe("leader");

    const raw = await RawSocket.open(cluster.node(leader).client);
    const writes: Record<string, unknown>[] = [
      { op: "put", key: "nq/put", value: "in the log" },
      { op: "incr", key: "nq/ctr", delta: 3 },
      { op: "put", key: "nq/session", value: "s", session: "nq", seq: 1 },
    ];
    const ids = writes.map(() => newId());
    const replies = await Promise.all(
      writes.map((frame, k) => raw.request({ id: ids[k], ...frame })),
    );
    for (const [k, reply] of replies.entries()) expectError(reply, "TIMEOUT", ids[k]);
    // A stale read is served on the spot.
    let id = newId();
    expect(
      await raw.request({ id, op: "get", key: "nq/base", consistency: "stale" }),
    ).toMatchObject({ ok: true, value: "before" });
    const lastIndex = Number((await health(cluster, leader)).lastIndex);

    // One follower back: the writes that were answered TIMEOUT were in the log and now commit.
    cluster.restart(followers[0]!);
    await cluster.waitForHealth(leader, (h) => Number(h.commitIndex) >= lastIndex);
    expect(await cluster.waitForLeader(15_000, [leader, followers[0]!])).toBe(leader);
    id = newId();
    expect(await raw.request({ id, op: "get", key: "nq/put" })).toMatchObject({
      ok: true,
      value: "in the log",
    });
    id = newId();
    expect(await raw.request({ id, op: "get", key: "nq/ctr" })).toMatchObject({ value: "3" });
    // The session write applied exactly once; its retry gets the first answer.
    id = newId();
    const retry = await raw.request({
      id,
      op: "put",
      key: "nq/session",
      value: "s",
      session: "nq",
      seq: 1,
    });
    expectSuccess(retry, "put", id);
    cluster.restart(followers[1]!);
    await cluster.waitForLeader();
    await waitForLinks(cluster);
  });

  it("conformance - with no leader known, writes and linearizable/lease reads get UNAVAILABLE and nothing is done", async () => {
    const leader = await cluster.waitForLeader();
    const client = cluster.client([leader]);
    await client.put("nq2/base", "kept");
    const last = await client.put("nq2/ctr", "10");
    const survivor = cluster.nodes.find((n) => n.name !== leader)!.name;
    await cluster.waitForHealth(survivor, (h) => Number(h.appliedIndex) >= last.index);
    for (const node of cluster.nodes) if (node.name !== survivor) await cluster.kill(node.name);
    // The survivor's election timer runs out: it no longer knows a leader.
    await cluster.waitForHealth(survivor, (h) => h.leader === null);

    const raw = await RawSocket.open(cluster.node(survivor).client);
    const refused: Record<string, unknown>[] = [
      { op: "put", key: "nq2/new", value: "never" },
      { op: "delete", key: "nq2/base" },
      { op: "cas", key: "nq2/base", expect: "kept", value: "changed" },
      { op: "incr", key: "nq2/ctr", delta: 1 },
      { op: "put", key: "nq2/session", value: "s", session: "nq2", seq: 1 },
      { op: "get", key: "nq2/base" },
      { op: "get", key: "nq2/base", consistency: "linearizable" },
      { op: "get", key: "nq2/base", consistency: "lease" },
      { op: "scan", prefix: "nq2/" },
      { op: "scan", prefix: "nq2/", consistency: "lease" },
    ];
    for (const frame of refused) {
      const id = newId();
      expectError(await raw.request({ id, ...frame }), "UNAVAILABLE", id);
    }
    let id = newId();
    expect(
      await raw.request({ id, op: "get", key: "nq2/base", consistency: "stale" }),
    ).toMatchObject({ ok: true, found: true, value: "kept" });
    id = newId();
    const status = await raw.request({ id, op: "status" });
    expectSuccess(status, "status", id);
    expect(status.leader).toBeNull();
    expect(["follower", "candidate"]).toContain(status.role);

    // Back to a quorum: none of the UNAVAILABLE writes was applied.
    for (const node of cluster.nodes) if (node.name !== survivor) cluster.restart(node.name);
    await cluster.waitForLeader();
    await waitForLinks(cluster);
    const reader = cluster.client(cluster.nodes.map((n) => n.name));
    expect((await reader.get("nq2/new")).found).toBe(false);
    expect((await reader.get("nq2/base")).value).toBe("kept");
    expect((await reader.get("nq2/ctr")).value).toBe("10");
    expect((await reader.get("nq2/session")).found).toBe(false);
  });
});

// ====================================== D: no quorum with the default timings (checkQuorum on)

describe("conformance - losing the quorum under the default config", () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await TestCluster.start(3, { limits: { requestTimeoutMs: 1_000 } });
  });

  afterAll(async () => {
    closeSockets();
    await cluster?.stop();
  });

  /**
   * Kill both followers and keep writing to the leader: first writes reach its log (it has not
   * noticed yet) and must be TIMEOUT; once it steps down (checkQuorum) writes are UNAVAILABLE.
   * Whatever the interleaving: no write is acknowledged, every answer is one of the two, and
   * after the quorum is back no write answered UNAVAILABLE has been applied.
   */
  it("conformance - every write is TIMEOUT or UNAVAILABLE, and no UNAVAILABLE write is ever applied", async () => {
    const leader = await cluster.waitForLeader();
    const followers = cluster.nodes.filter((n) => n.name !== leader).map((n) => n.name);
    await cluster.client([leader]).put("dq/base", "v");
    for (const name of followers) await cluster.kill(name);
    const raw = await RawSocket.open(cluster.node(leader).client);
    const outcomes: { key: string; code: string }[] = [];
    for (let k = 0; k < 40; k++) {
      const id = newId();
      const reply = await raw.request({ id, op: "put", key: `dq/${k}`, value: `v${k}` });
      expect(reply.ok, `dq/${k} cannot be committed without a quorum`).toBe(false);
      expect(reply.id).toBe(id);
      outcomes.push({ key: `dq/${k}`, code: reply.error!.code });
      if (reply.error!.code === "UNAVAILABLE") break;
    }
    expect(
      outcomes.filter((o) => o.code !== "TIMEOUT" && o.code !== "UNAVAILABLE"),
      JSON.stringify(outcomes),
    ).toEqual([]);
    expect(outcomes.at(-1)!.code, "the leader steps down and says so").toBe("UNAVAILABLE");

    for (const name of followers) cluster.restart(name);
    await cluster.waitForLeader();
    await waitForLinks(cluster);
    const reader = cluster.client(cluster.nodes.map((n) => n.name));
    for (const outcome of outcomes) {
      const got = await reader.get(outcome.key);
      if (outcome.code === "UNAVAILABLE")
        expect(got.found, `${outcome.key} was answered UNAVAILABLE but is applied`).toBe(false);
    }
    expect((await reader.get("dq/base")).value).toBe("v");
  });
});
