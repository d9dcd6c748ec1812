import { describe, expect, test } from "vitest";
import { type ClientConnection, ConnectionTable } from "../../stages/respond/connections.js";

function connection(table: ConnectionTable): ClientConnection {
  const made: ClientConnection = {
    connId: table.allocateId(),
    admin: true,
    inflight: 0,
    queuedReplyBytes: 0,
    bufferedBytes: () => 0,
    closed: false,
    send: () => {},
    cork: (fn) => fn(),
    end: () => {},
  };
  table.add(made);
  return made;
}

describe("connections - requests in flight across connections (admission's load)", () => {
  test("connections - admitted and answered move the total; a closed connection's requests stop counting", () => {
    const table = new ConnectionTable();
    const a = connection(table);
    const b = connection(table);
    for (let k = 0; k < 3; k++) table.admitted(a);
    table.admitted(b);
    expect(table.inflight).toBe(4);
    table.answered(a, 2);
    expect([a.inflight, table.inflight]).toEqual([1, 2]);
    table.remove(a.connId);
    expect(table.inflight).toBe(1);
    table.remove(a.connId); // twice: nothing more
    expect(table.inflight).toBe(1);
    table.answered(b, 1);
    expect(table.inflight).toBe(0);
  });

  test("connections - answers to requests sent past admission never drive the total below zero", () => {
    const table = new ConnectionTable();
    const admin = connection(table);
    table.answered(admin, 2); // two admin replies, never admitted
    expect([admin.inflight, table.inflight]).toEqual([-2, 0]);
    table.admitted(admin);
    table.admitted(admin);
    table.admitted(admin);
    expect(table.inflight).toBe(1);
    table.answered(admin, 1);
    expect(table.inflight).toBe(0);
  });
});
