import pino from "pino";
import { describe, expect, test } from "vitest";
import { type ClientConnection, ConnectionTable } from "../../stages/connections.js";
import type { Reply } from "../../stages/items.js";
import { RespondStage, replyBytesEstimate } from "../../stages/respond.js";

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
    connection.inflight = 1;
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
});
