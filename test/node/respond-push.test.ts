import pino from "pino";
import { describe, expect, test } from "vitest";
import { type ClientConnection, ConnectionTable } from "../../stages/respond/connections.js";
import { RespondStage } from "../../stages/respond/respond.js";

/** Frames pushed to a connection (watch events): no id, no ok; owed like replies; not answers. */

function setup() {
  const connections = new ConnectionTable();
  const sent: string[] = [];
  const connection: ClientConnection & { ended: number } = {
    connId: connections.allocateId(),
    admin: false,
    inflight: 2,
    queuedReplyBytes: 0,
    bufferedBytes: () => 0,
    closed: false,
    send: (text) => sent.push(text),
    cork: (fn) => fn(),
    ended: 0,
    end: () => {
      connection.ended++;
    },
  };
  connections.add(connection);
  const respond = new RespondStage(
    connections,
    { forwardReply: () => {} },
    { capacityItems: 100, batchItems: 10, maxReplyBytesPerConnection: 64 * 1024 },
    pino({ level: "silent" }),
  );
  return { connection, respond, sent };
}

/** A result JSON.stringify refuses, as it refuses one past V8's string limit (2^29 - 24). */
const unencodable = { value: 1n };

describe("respond - pushed frames", () => {
  test("respond - a pushed frame is written as is, counts the pusher's bytes and answers nothing", async () => {
    const { connection, respond, sent } = setup();
    const target = { kind: "local", connId: connection.connId, id: 0 } as const;
    respond.push(connection.connId, { watch: 1, events: [], revision: 5 }, 100_000);
    expect(connection.queuedReplyBytes).toBe(100_000);
    expect(respond.room(target)).toBe("full");
    respond.reply({ target: { ...target, id: 9 }, body: { ok: true, result: { canceled: true } } });
    await respond.stage.idle();
    expect(sent.map((t) => JSON.parse(t))).toEqual([
      { watch: 1, events: [], revision: 5 },
      { id: 9, ok: true, canceled: true },
    ]);
    expect(connection.queuedReplyBytes).toBe(0);
    // Only the reply answered a request in flight.
    expect(connection.inflight).toBe(1);
  });

  test("respond - a pushed frame that cannot be encoded closes its connection rather than skip", async () => {
    const { connection, respond, sent } = setup();
    respond.push(connection.connId, { watch: 1, events: [unencodable], revision: 7 });
    respond.push(connection.connId, { watch: 1, events: [], revision: 8 });
    await respond.stage.idle();
    // Nothing after the lost frame reaches the client: its watch resumes from revision 7.
    expect(sent).toEqual([]);
    expect(connection.ended).toBe(1);
    expect(respond.stats.encodeFailed).toBe(1);
    expect(connection.queuedReplyBytes).toBe(0);
  });

  test("respond - a write's reply too large to encode says it was applied, at which revision", async () => {
    const { connection, respond, sent } = setup();
    const target = { kind: "local", connId: connection.connId, id: 4 } as const;
    const result = { deleted: 100, revision: 41, prevKvs: [unencodable] };
    respond.reply({ target, body: { ok: true, result } });
    await respond.stage.idle();
    const reply = JSON.parse(sent[0]!) as {
      id: number;
      ok: boolean;
      error: { code: string; message: string };
    };
    expect(reply).toMatchObject({ id: 4, ok: false, error: { code: "TIMEOUT" } });
    expect(reply.error.message).toMatch(/was applied at revision 41/);
    expect(reply.error.message).toMatch(/too large/);
    expect(connection.ended).toBe(0);
  });

  test("respond - a read's reply too large to encode is TOO_LARGE (nothing was done)", async () => {
    const { connection, respond, sent } = setup();
    const target = { kind: "local", connId: connection.connId, id: 5, op: "scan" } as const;
    respond.reply({ target, body: { ok: true, result: { items: [unencodable], revision: 9 } } });
    await respond.stage.idle();
    expect(JSON.parse(sent[0]!)).toMatchObject({ id: 5, ok: false, error: { code: "TOO_LARGE" } });
  });
});
