import pino from "pino";
import { describe, expect, test } from "vitest";
import { type ClientConnection, ConnectionTable } from "../../stages/respond/connections.js";
import { RespondStage } from "../../stages/respond/respond.js";

/** Frames pushed to a connection (watch events): no id, no ok; owed like replies; not answers. */

describe("respond - pushed frames", () => {
  test("respond - a pushed frame is written as is, counts the pusher's bytes and answers nothing", async () => {
    const connections = new ConnectionTable();
    const sent: string[] = [];
    const connection: ClientConnection = {
      connId: connections.allocateId(),
      admin: false,
      inflight: 2,
      queuedReplyBytes: 0,
      bufferedBytes: () => 0,
      closed: false,
      send: (text) => sent.push(text),
      cork: (fn) => fn(),
      end: () => {},
    };
    connections.add(connection);
    const respond = new RespondStage(
      connections,
      { forwardReply: () => {} },
      { capacityItems: 100, batchItems: 10, maxReplyBytesPerConnection: 64 * 1024 },
      pino({ level: "silent" }),
    );
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
});
