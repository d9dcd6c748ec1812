import { assert } from "../../queues/assert.js";
/** A client connection as the ingress and respond stages see it. */
export interface ClientConnection {
  readonly connId: number;
  /** Opened with the admin token (or auth is off): may use admin ops. */
  readonly admin: boolean;
  /** Requests admitted and not answered yet (bounded per connection). */
  inflight: number;
  /**
   * Estimated bytes (respond.ts replyBytesEstimate: UTF-8 strings plus envelope) of replies
   * handed to respond and not yet written to the socket; each reply adds and takes off once.
   */
  queuedReplyBytes: number;
  /** Bytes written to the socket that the client has not taken yet (held by uWS). */
  bufferedBytes(): number;
  closed: boolean;
  send(text: string): void;
  cork(fn: () => void): void;
  end(): void;
}

/** Reply bytes a connection owes its client: queued in respond plus buffered in the socket. */
export function owedReplyBytes(connection: ClientConnection): number {
  return connection.queuedReplyBytes + connection.bufferedBytes();
}

/** The open client connections by id; shared by ingress (owner) and respond. */
export class ConnectionTable {
  private readonly connections = new Map<number, ClientConnection>();
  private nextId = 1;
  private inflightTotal = 0;

  /**
   * Requests admitted on open connections and not answered yet (admission's load): the sum of
   * the connections' positive counts, since requests sent past admission (remu's and the admin
   * paths) are answered too.
   */
  get inflight(): number {
    return this.inflightTotal;
  }

  admitted(connection: ClientConnection): void {
    this.change(connection, 1);
  }

  answered(connection: ClientConnection, count: number): void {
    this.change(connection, -count);
  }

  private change(connection: ClientConnection, by: number): void {
    const before = Math.max(0, connection.inflight);
    connection.inflight += by;
    this.inflightTotal += Math.max(0, connection.inflight) - before;
    assert(this.inflightTotal >= 0, "connections: more answers than requests admitted");
  }

  allocateId(): number {
    return this.nextId++;
  }

  add(connection: ClientConnection): void {
    this.connections.set(connection.connId, connection);
    this.inflightTotal += Math.max(0, connection.inflight);
  }

  get(connId: number): ClientConnection | undefined {
    return this.connections.get(connId);
  }

  remove(connId: number): void {
    const connection = this.connections.get(connId);
    if (connection === undefined) return;
    connection.closed = true;
    // Its answers will not be delivered: what it had in flight stops counting now.
    this.inflightTotal -= Math.max(0, connection.inflight);
    this.connections.delete(connId);
  }

  closeAll(): void {
    for (const connection of [...this.connections.values()]) {
      if (!connection.closed) connection.end();
      this.remove(connection.connId);
    }
  }

  get size(): number {
    return this.connections.size;
  }
}
