import pino from "pino";
import { describe, expect, test } from "vitest";
import type { Reply } from "../../stages/items.js";
import { type ClientConnection, ConnectionTable } from "../../stages/respond/connections.js";
import { RespondStage, replyBytesEstimate } from "../../stages/respond/respond.js";

const silent = pino({ level: "silent" });

function fakeConnection(connId: number): ClientConnection & { sent: string[]; buffered: number } {
  const connection = {
    connId,
    admin: false,
    inflight: 0,
    queuedReplyBytes: 0,
    buffered: 0,
    bufferedBytes: () => connection.buffered,
    closed: false,
    sent: [] as string[],
    send: (text: string) => connection.sent.push(text),
    cork: (fn: () => void) => fn(),
    end: () => {},
  };
  return connection;
}

function getReply(connId: number, id: number, value: string): Reply {
  return {
    target: { kind: "local", connId, id },
    body: { ok: true, result: { found: true, value, index: 1 } },
  };
}

describe("respond - reply bytes owed per connection", () => {
  test("respond - queued bytes count until written; a connection past the bound is full", async () => {
    const connections = new ConnectionTable();
    const connection = fakeConnection(connections.allocateId());
    connections.add(connection);
    const respond = new RespondStage(
      connections,
      { forwardReply: () => {} },
      { capacityItems: 100, batchItems: 10, maxReplyBytesPerConnection: 10_000 },
      silent,
    );
    const target = { kind: "local", connId: connection.connId, id: 1 } as const;
    expect(respond.room(target)).toBe("open");
    const reply = getReply(connection.connId, 1, "x".repeat(20_000));
    connections.admitted(connection);
    respond.reply(reply);
    // Handed to respond, not yet written: owed.
    expect(connection.queuedReplyBytes).toBe(replyBytesEstimate(reply.body));
    expect(connection.queuedReplyBytes).toBeGreaterThan(20_000);
    expect(respond.room(target)).toBe("full");
    await respond.stage.idle();
    expect(connection.sent).toHaveLength(1);
    expect(connection.queuedReplyBytes).toBe(0);
    expect(respond.room(target)).toBe("open");
    // Written but not read by the client: owed as well.
    connection.buffered = 10_001;
    expect(respond.room(target)).toBe("full");
    connections.remove(connection.connId);
    expect(respond.room(target)).toBe("gone");
    // Forwarded requests are bounded by the follower that holds their client.
    expect(respond.room({ kind: "remote", node: "n2", forwardId: 1, id: 1 })).toBe("open");
  });

  test("respond - the estimate counts strings in results and their items", () => {
    const items = [
      { key: "a", value: "x".repeat(1000) },
      { key: "b", value: "y".repeat(2000) },
    ];
    const estimate = replyBytesEstimate({ ok: true, result: { items } });
    expect(estimate).toBeGreaterThan(3000);
    expect(estimate).toBeLessThan(3000 + 200);
    expect(replyBytesEstimate({ ok: false, error: { code: "OVERLOADED", message: "m" } })).toBe(
      256,
    );
  });

  test("respond - the estimate is UTF-8 bytes", () => {
    const estimate = replyBytesEstimate({ ok: true, result: { value: "é".repeat(1000) } });
    expect(estimate).toBeGreaterThanOrEqual(2000);
  });

  test("respond - a reply's estimate is taken once: a result changed after reply() leaks nothing", async () => {
    const { connections, connection, respond } = setUp();
    const items = [{ key: "a", value: "x" }];
    connections.admitted(connection);
    respond.reply({
      target: { kind: "local", connId: connection.connId, id: 1 },
      body: { ok: true, result: { items } },
    });
    // The result grows before respond writes it (its estimate would differ the second time).
    items.push({ key: "b", value: "y".repeat(5000) });
    await respond.stage.idle();
    expect(connection.sent).toHaveLength(1);
    expect(connection.queuedReplyBytes).toBe(0);
    expect(connection.inflight).toBe(0);
    connections.remove(connection.connId);
  });

  test("respond - a reply that cannot be encoded is answered with an error; the rest of the batch is written and released", async () => {
    const { connections, connection, respond } = setUp();
    for (let k = 0; k < 3; k++) connections.admitted(connection);
    const target = (id: number) => ({ kind: "local", connId: connection.connId, id }) as const;
    respond.reply({ target: target(1), body: { ok: true, result: { value: "a" } } });
    // JSON.stringify throws on a BigInt: an encoder bug must not cost the other replies.
    respond.reply({ target: target(2), body: { ok: true, result: { value: 10n } } });
    respond.reply({ target: target(3), body: { ok: true, result: { value: "c" } } });
    await respond.stage.idle();
    expect(connection.queuedReplyBytes).toBe(0);
    expect(connection.inflight).toBe(0);
    const sent = connection.sent.map((text) => JSON.parse(text));
    expect(sent.map((reply) => reply.id)).toEqual([1, 2, 3]);
    expect(sent[0]).toMatchObject({ ok: true, value: "a" });
    expect(sent[1]).toMatchObject({ ok: false, error: { code: "TIMEOUT" } });
    expect(sent[2]).toMatchObject({ ok: true, value: "c" });
  });
});

function setUp() {
  const connections = new ConnectionTable();
  const connection = fakeConnection(connections.allocateId());
  connections.add(connection);
  const respond = new RespondStage(
    connections,
    { forwardReply: () => {} },
    { capacityItems: 100, batchItems: 10, maxReplyBytesPerConnection: 1 << 20 },
    silent,
  );
  return { connections, connection, respond };
}
