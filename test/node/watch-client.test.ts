import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import { WebSocketServer } from "ws";
import { StageraftError } from "../../src/client/client.js";
import { type WatchEvent, WatchStream } from "../../src/client/watch.js";

/** The typed client's watch (src/client/watch.ts) against scripted fake nodes. */

type Request = Record<string, unknown> & { id: number; op: string };
type Script = (request: Request, send: (frame: object) => void, end: () => void) => void;

const servers: WebSocketServer[] = [];

async function fakeNode(script: Script): Promise<{ endpoint: string; requests: Request[] }> {
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1", path: "/v1" });
  servers.push(server);
  await new Promise((resolve) => server.once("listening", resolve));
  const requests: Request[] = [];
  server.on("connection", (socket) => {
    socket.on("message", (data) => {
      const request = JSON.parse(String(data)) as Request;
      requests.push(request);
      script(
        request,
        (frame) => socket.send(JSON.stringify(frame)),
        () => socket.terminate(),
      );
    });
  });
  return { endpoint: `127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

afterEach(async () => {
  for (const server of servers.splice(0)) {
    for (const client of server.clients) client.terminate();
    await new Promise((resolve) => server.close(resolve));
  }
});

function put(revision: number, key = "k"): WatchEvent {
  return {
    type: "put",
    kv: {
      key,
      value: String(revision),
      createRevision: 1,
      modRevision: revision,
      version: 1,
      lease: null,
    },
  };
}

async function take(stream: WatchStream, n: number): Promise<number[]> {
  const seen: number[] = [];
  for await (const event of stream) {
    seen.push(event.kv.modRevision);
    if (seen.length === n) break;
  }
  return seen;
}

describe("client watch", () => {
  test("a lost connection resumes on the next node from the revision after the last frame", async () => {
    const a = await fakeNode((request, send, end) => {
      if (request.op !== "watch") return;
      send({ id: request.id, ok: true, watch: 7, revision: 10 });
      send({ watch: 7, events: [put(11), put(12)], revision: 14 });
      setTimeout(end, 20);
    });
    const b = await fakeNode((request, send) => {
      if (request.op !== "watch") return;
      send({ id: request.id, ok: true, watch: 1, revision: 20 });
      // A node may repeat what the client already has: it is dropped.
      send({ watch: 1, events: [put(14), put(15), put(16)], revision: 16 });
    });
    const stream = new WatchStream(
      [a.endpoint, b.endpoint],
      { prefix: "k" },
      { retryBackoffMs: 5 },
    );
    expect(await take(stream, 4)).toEqual([11, 12, 15, 16]);
    expect(a.requests[0]).toMatchObject({ op: "watch", prefix: "k" });
    expect(a.requests[0]).not.toHaveProperty("startRevision");
    expect(b.requests[0]).toMatchObject({ op: "watch", prefix: "k", startRevision: 15 });
    expect(stream.resumes).toBe(1);
  });

  test("a server cancel for slowness resumes on the same node; break cancels the watch", async () => {
    let created = 0;
    const a = await fakeNode((request, send) => {
      if (request.op !== "watch") return;
      created++;
      send({ id: request.id, ok: true, watch: created, revision: 3 });
      if (created === 1) {
        send({ watch: 1, events: [put(4)], revision: 4 });
        send({ watch: 1, canceled: true, reason: "too slow; resume from revision 5", revision: 4 });
      } else send({ watch: 2, events: [put(5), put(6)], revision: 6 });
    });
    const stream = new WatchStream([a.endpoint], { key: "k" }, { retryBackoffMs: 5 });
    expect(await take(stream, 3)).toEqual([4, 5, 6]);
    expect(a.requests[1]).toMatchObject({ op: "watch", key: "k", startRevision: 5 });
    await expect.poll(() => a.requests.at(-1)).toMatchObject({ op: "cancel-watch", watch: 2 });
  });

  test("fragments of one revision are delivered together; a loss between them repeats nothing", async () => {
    const first = [put(5, "k1"), put(5, "k2")];
    const rest = [put(5, "k3"), put(5, "k4")];
    const a = await fakeNode((request, send, end) => {
      if (request.op !== "watch") return;
      send({ id: request.id, ok: true, watch: 1, revision: 4 });
      send({ watch: 1, events: first, revision: 4, fragment: true });
      setTimeout(end, 20); // Lost before the rest of revision 5.
    });
    const b = await fakeNode((request, send) => {
      if (request.op !== "watch") return;
      send({ id: request.id, ok: true, watch: 1, revision: 6 });
      send({ watch: 1, events: first, revision: 4, fragment: true });
      send({ watch: 1, events: rest, revision: 6 });
    });
    const stream = new WatchStream(
      [a.endpoint, b.endpoint],
      { prefix: "k" },
      { retryBackoffMs: 5 },
    );
    const keys: string[] = [];
    for await (const event of stream) {
      keys.push(event.kv.key);
      if (keys.length === 4) break;
    }
    expect(keys).toEqual(["k1", "k2", "k3", "k4"]);
    expect(b.requests[0]).toMatchObject({ op: "watch", startRevision: 5 });
  });

  test("a cancel for an event too large to send ends the loop with TOO_LARGE", async () => {
    const a = await fakeNode((request, send) => {
      if (request.op !== "watch") return;
      send({ id: request.id, ok: true, watch: 1, revision: 1 });
      send({
        watch: 1,
        canceled: true,
        reason: "TOO_LARGE: an event of revision 2 …",
        revision: 1,
      });
    });
    const stream = new WatchStream([a.endpoint], { key: "k" }, { retryBackoffMs: 5 });
    const error = await take(stream, 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StageraftError);
    expect((error as StageraftError).code).toBe("TOO_LARGE");
    expect(a.requests.filter((r) => r.op === "watch")).toHaveLength(1);
  });

  test("COMPACTED ends the loop with an error", async () => {
    const a = await fakeNode((request, send) => {
      send({
        id: request.id,
        ok: false,
        error: { code: "COMPACTED", message: "revision 2 is compacted" },
      });
    });
    const stream = new WatchStream([a.endpoint], { key: "k", startRevision: 2 });
    const error = await take(stream, 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StageraftError);
    expect((error as StageraftError).code).toBe("COMPACTED");
  });
});
