import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import type { Logger } from "pino";
import type { ClientItem, ReplyTarget } from "../../items.js";
import type { ProtocolLimits } from "../../protocol.js";
import { decodeRequest } from "../../protocol-decode.js";
import type { PeerGatewayPorts } from "../../replicate/peer-gateway.js";
import type { ClientConnection, ConnectionTable } from "../../respond/connections.js";
import { clientAccess } from "../tokens.js";
import { EtcdError, grpcError, type NativeReply, nativeError } from "./errors.js";

export interface EtcdDoorOptions {
  readonly host: string;
  readonly port: number;
  readonly limits: ProtocolLimits;
  readonly requestTimeoutMs: number;
  readonly clientToken: string | null;
  readonly adminToken: string | null;
}

/** What a handler calls: one native request through the pipeline, answered as its reply. */
export type Call = (frame: Record<string, unknown>) => Promise<Record<string, unknown>>;

/** Counters, shown beside ingress's (the door is an ingress). */
export interface EtcdDoorStats {
  calls: number;
  overloaded: number;
  unauthorized: number;
  badRequests: number;
}

/** A service's handlers by method name, given the call port of the RPC being served. */
export type Handlers = Record<string, (call: Call, request: Record<string, unknown>) => unknown>;

const protoDir = fileURLToPath(new URL("../../../../stages/ingress/etcd/proto/", import.meta.url));

/** proto-loader's decoding: int64 as decimal strings (uint64 ids pass 2^53), enums by name. */
const loadOptions: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [protoDir],
};

/**
 * A second front door speaking etcd's v3 gRPC API (CONTRACT §7, docs/etcd-compat.md). Each
 * RPC becomes one or more native requests (the same ClientRequests the WebSocket door
 * decodes, validated by the same decoder) offered to raft-step under the same admission
 * control; the reply comes back through respond to a connection of this door's own, one per
 * RPC, so that the stages need not know about gRPC.
 */
export class EtcdDoor {
  private server: grpc.Server | null = null;
  private nextId = 1;
  /** The port listened on, once started. */
  port = 0;
  readonly stats: EtcdDoorStats = { calls: 0, overloaded: 0, unauthorized: 0, badRequests: 0 };

  constructor(
    private readonly connections: ConnectionTable,
    private readonly ports: Pick<PeerGatewayPorts, "raftStep" | "admission">,
    private readonly options: EtcdDoorOptions,
    private readonly services: Record<string, Handlers>,
    private readonly log: Logger,
  ) {}

  async start(): Promise<number> {
    const definition = protoLoader.loadSync(["rpc.proto"], loadOptions);
    const loaded = grpc.loadPackageDefinition(definition);
    const pkg = loaded.etcdserverpb as grpc.GrpcObject;
    const server = new grpc.Server();
    for (const [name, handlers] of Object.entries(this.services)) {
      const service = (pkg[name] as grpc.ServiceClientConstructor).service;
      const implementation: grpc.UntypedServiceImplementation = {};
      for (const [method, handler] of Object.entries(handlers))
        implementation[method] = this.unary(handler);
      server.addService(service, implementation);
    }
    const { host, port } = this.options;
    const bound = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (error, p) =>
        error
          ? reject(new Error(`cannot listen for etcd clients on ${host}:${port}: ${error.message}`))
          : resolve(p),
      );
    });
    this.server = server;
    this.port = bound;
    this.log.info({ etcd: `${host}:${bound}` }, "etcd v3 API listening");
    return bound;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server === null) return;
    await new Promise<void>((resolve) => {
      // In-flight RPCs get their answer (the pipeline answers every request by its deadline);
      // past that, cut.
      const timer = setTimeout(() => server.forceShutdown(), this.options.requestTimeoutMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private unary(
    handler: (call: Call, request: Record<string, unknown>) => unknown,
  ): grpc.handleUnaryCall<Record<string, unknown>, unknown> {
    return (rpc, callback) => {
      this.stats.calls++;
      const access = clientAccess(metadataToken(rpc.metadata), this.options);
      if (access === null) {
        this.stats.unauthorized++;
        callback(grpcError(EtcdError.invalidAuthToken()));
        return;
      }
      const call: Call = (frame) => this.call(frame, access.admin);
      Promise.resolve()
        .then(() => handler(call, rpc.request))
        .then(
          (response) => callback(null, response),
          (error: unknown) => {
            if (error instanceof EtcdError && error.code === grpc.status.INVALID_ARGUMENT)
              this.stats.badRequests++;
            if (!(error instanceof EtcdError))
              this.log.error({ err: error }, "an etcd RPC failed unexpectedly");
            callback(grpcError(error));
          },
        );
    };
  }

  /** One native request: decoded as the WebSocket door decodes it, admitted, answered. */
  private call(frame: Record<string, unknown>, admin: boolean): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    const decoded = decodeRequest(JSON.stringify({ id, ...frame }), this.options.limits);
    if (!decoded.ok) return Promise.reject(nativeError(decoded.error));
    return new Promise((resolve, reject) => {
      const connection = this.connection(admin, (reply) => {
        this.connections.remove(connection.connId);
        if (reply.ok) resolve(reply);
        else reject(nativeError(reply.error));
      });
      const target: ReplyTarget = {
        kind: "local",
        connId: connection.connId,
        id,
        op: decoded.request.op,
        receivedMs: performance.now(),
      };
      const item: ClientItem = {
        kind: "client",
        target,
        admin,
        request: decoded.request,
        deadline: Date.now() + this.options.requestTimeoutMs,
      };
      this.connections.add(connection);
      if (!this.ports.admission.admit() || !this.ports.raftStep.offer(item)) {
        this.connections.remove(connection.connId);
        this.stats.overloaded++;
        reject(EtcdError.tooManyRequests());
        return;
      }
      connection.inflight++;
    });
  }

  /** A connection for one request: respond writes the encoded reply; it is parsed back here. */
  private connection(admin: boolean, onReply: (reply: NativeReply) => void): ClientConnection {
    const connection: ClientConnection = {
      connId: this.connections.allocateId(),
      admin,
      inflight: 0,
      queuedReplyBytes: 0,
      bufferedBytes: () => 0,
      closed: false,
      send: (text) => onReply(JSON.parse(text) as NativeReply),
      cork: (fn) => fn(),
      end: () =>
        onReply({ ok: false, error: { code: "UNAVAILABLE", message: "the node is stopping" } }),
    };
    return connection;
  }
}

/** etcd clients send the token as `token` metadata; `authorization` (Bearer or bare) too. */
function metadataToken(metadata: grpc.Metadata): string | null {
  for (const name of ["authorization", "token"]) {
    const value = metadata.get(name)[0];
    if (typeof value === "string" && value !== "")
      return value.startsWith("Bearer ") ? value.slice(7) : value;
  }
  return null;
}
