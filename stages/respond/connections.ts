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

  allocateId(): number {
    return this.nextId++;
  }

  add(connection: ClientConnection): void {
    this.connections.set(connection.connId, connection);
  }

  get(connId: number): ClientConnection | undefined {
    return this.connections.get(connId);
  }

  remove(connId: number): void {
    const connection = this.connections.get(connId);
    if (connection) connection.closed = true;
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
