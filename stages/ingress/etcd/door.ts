import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import type { Logger } from "pino";
import type { ProtocolLimits } from "../../protocol.js";
import type { ConnectionTable } from "../../respond/connections.js";
import { clientAccess } from "../tokens.js";
import { EtcdError, grpcError } from "./errors.js";
import { type Fields, Session, type SessionPorts } from "./session.js";

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

export type UnaryHandler = (call: Call, request: Fields) => unknown;

/**
 * A bidirectional stream's handler: `open` starts its session (pushed frames to `onPush`),
 * `fail` ends the stream with an error.
 */
export type StreamHandler = (
  rpc: grpc.ServerDuplexStream<Fields, Fields>,
  open: (onPush: (frame: Fields) => void) => Session,
  fail: (error: unknown) => void,
) => void;

/** A server stream's handler (Snapshot): writes its responses, resolves when done. */
export type ServerStreamHandler = (
  rpc: grpc.ServerWritableStream<Fields, Fields>,
  call: Call,
  admin: boolean,
) => Promise<void>;

/**
 * A service's handlers by method name: unary, `{stream}` for a bidirectional stream,
 * `{serverStream}` for a stream of responses.
 */
export type Handlers = Record<
  string,
  UnaryHandler | { readonly stream: StreamHandler } | { readonly serverStream: ServerStreamHandler }
>;

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
  /** The port listened on, once started. */
  port = 0;
  /** Ends each open bidirectional stream (at stop: a watch stream never ends by itself). */
  private readonly streams = new Set<() => void>();
  readonly stats: EtcdDoorStats = { calls: 0, overloaded: 0, unauthorized: 0, badRequests: 0 };

  constructor(
    private readonly connections: ConnectionTable,
    private readonly ports: SessionPorts,
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
        implementation[method] =
          typeof handler === "function"
            ? this.unary(handler)
            : "stream" in handler
              ? this.bidi(handler.stream)
              : this.serverStream(handler.serverStream);
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
    for (const end of [...this.streams]) end();
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

  private authorize(metadata: grpc.Metadata): { admin: boolean } | null {
    const access = clientAccess(metadataToken(metadata), this.options);
    if (access === null) this.stats.unauthorized++;
    return access;
  }

  private session(admin: boolean, onPush?: (frame: Fields) => void, onEnd?: () => void): Session {
    return new Session(
      this.connections,
      this.ports,
      this.options,
      admin,
      onPush,
      onEnd,
      this.stats,
    );
  }

  private unary(handler: UnaryHandler): grpc.handleUnaryCall<Fields, unknown> {
    return (rpc, callback) => {
      this.stats.calls++;
      const access = this.authorize(rpc.metadata);
      if (access === null) {
        callback(grpcError(EtcdError.invalidAuthToken()));
        return;
      }
      const session = this.session(access.admin);
      const call: Call = (frame) => session.call(frame);
      Promise.resolve()
        .then(() => handler(call, rpc.request))
        .then(
          (response) => callback(null, response),
          (error: unknown) => callback(grpcError(this.failed(error))),
        )
        .finally(() => session.close());
    };
  }

  private serverStream(
    handler: ServerStreamHandler,
  ): grpc.handleServerStreamingCall<Fields, Fields> {
    return (rpc) => {
      this.stats.calls++;
      const access = this.authorize(rpc.metadata);
      if (access === null) {
        rpc.emit("error", grpcError(EtcdError.invalidAuthToken()));
        return;
      }
      const session = this.session(access.admin);
      handler(rpc, (frame) => session.call(frame), access.admin)
        .then(
          () => rpc.end(),
          (error: unknown) => rpc.emit("error", grpcError(this.failed(error))),
        )
        .finally(() => session.close());
    };
  }

  /** A bidirectional stream (Watch, LeaseKeepAlive): one session for the stream's life. */
  private bidi(handler: StreamHandler): grpc.handleBidiStreamingCall<Fields, Fields> {
    return (rpc) => {
      this.stats.calls++;
      const access = this.authorize(rpc.metadata);
      if (access === null) {
        rpc.emit("error", grpcError(EtcdError.invalidAuthToken()));
        return;
      }
      let session: Session | null = null;
      const end = () => {
        this.streams.delete(end);
        session?.close();
        if (!rpc.writableEnded) rpc.end();
      };
      this.streams.add(end);
      const open = (onPush: (frame: Fields) => void) => {
        session = this.session(access.admin, onPush, end);
        return session;
      };
      const fail = (error: unknown) => {
        session?.close();
        rpc.emit("error", grpcError(this.failed(error)));
      };
      rpc.on("end", end);
      const gone = () => {
        this.streams.delete(end);
        session?.close();
      };
      rpc.on("cancelled", gone);
      rpc.on("error", gone);
      handler(rpc, open, fail);
    };
  }

  private failed(error: unknown): unknown {
    if (error instanceof EtcdError && error.code === grpc.status.INVALID_ARGUMENT)
      this.stats.badRequests++;
    if (!(error instanceof EtcdError))
      this.log.error({ err: error }, "an etcd RPC failed unexpectedly");
    return error;
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
