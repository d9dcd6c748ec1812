/**
 * The bench's launchers, in one import: the server processes (processes.ts), their CPU and
 * memory (proc-stats.ts), and the clusters: stageraft, etcd, the bare echo server.
 */
export { EchoServer } from "./echo-cluster.js";
export { EtcdCluster } from "./etcd-cluster.js";
export * from "./proc-stats.js";
export * from "./processes.js";
export { StageraftCluster } from "./stageraft-cluster.js";
