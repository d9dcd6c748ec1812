/** What the KV bench says about its own fairness, printed with the side-by-side table. */
import { type KvConfig, raftTiming } from "./kv-options.js";

export function fairness(config: KvConfig): string[] {
  const o = config.options;
  return [
    "Same machine, one system at a time (never two running), each on a fresh 3-node cluster with fresh data dirs on the same disk.",
    `Same workload: 16-byte keys, ${o.valueBytes}-byte values, ${o.keys} keys written once, then chosen uniformly at random; ${o.connections} connections x ${o.window} = ${config.settings.inFlight} requests in flight (closed loop); ${config.warmupSeconds} s warm-up (not measured), then ${config.measureSeconds} s measured per phase.`,
    "Same durability: stageraft wal.sync=true (the WAL is fsynced before a write is acknowledged); etcd fsyncs its WAL before acknowledging (its default; no unsafe flags).",
    `Same Raft timing: heartbeat ${raftTiming.tickMs * raftTiming.heartbeatTicks} ms, election timeout ${raftTiming.tickMs * raftTiming.electionTicks} ms (etcd's defaults).`,
    "Reads: linearizable = stageraft ReadIndex vs etcd's default range (also ReadIndex); stale = stageraft 'stale' vs etcd 'serializable' (served locally); lease: etcd has no lease reads, so no etcd figure.",
    "Latency is as the client sees it in a closed loop at this concurrency (no coordinated-omission correction). The load generator shares the machine's cores with the servers; its CPU is reported ('bench'), and so is the CPU of every other process on the machine ('others': noise from other jobs).",
    "The echo server is the transport alone: the same load generator and socket code sending the same put frames to a uWebSockets.js server that answers each with {id, ok} (no Raft, no disk).",
  ];
}

export function transportNote(config: KvConfig): string[] {
  const o = config.options;
  const etcdPath =
    o.etcdClient === "grpc"
      ? [
          `etcd is measured through its gRPC API with the etcd3 client (${o.connections} HTTP/2 channels, ${o.window}`,
          "calls in flight on each), the path etcd's own clients take.",
        ]
      : [
          `etcd is measured through its v3 JSON gateway over HTTP/1.1 keep-alive (${config.settings.inFlight} sockets, one request`,
          "on each, as HTTP/1.1 allows): grpc-gateway translating to etcd's gRPC API inside the server, an extra",
          "hop and base64 that etcd's native gRPC clients do not pay.",
        ];
  if (o.stageraftClient === "etcd3" && o.etcdClient === "grpc")
    return [
      "NOTE: one client, two servers. stageraft is measured through its etcd v3 gRPC door (--listen-etcd)",
      `with the same etcd3 client code as etcd (${o.connections} HTTP/2 channels, ${o.window} calls in flight on each).`,
      "get-lease has no etcd API equivalent: it is not run for either. stageraft/echo compares gRPC with the WebSocket echo.",
    ];
  const stageraftPath =
    o.stageraftClient === "etcd3"
      ? "stageraft is measured through its etcd v3 gRPC door with the etcd3 client (no lease reads)."
      : `stageraft is measured through its own protocol, JSON frames over WebSocket (${o.connections} sockets, ${o.window} requests pipelined on each).`;
  return [
    `NOTE: the transports differ. ${stageraftPath}`,
    ...etcdPath,
    "The figures compare these access paths on this machine, not the best each system can do.",
  ];
}
