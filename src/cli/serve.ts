import { type Command, Option } from "commander";
import { withoutGlobalHelp } from "./common.js";

/** `serve`: run one node (CONTRACT §2). */
export function registerServe(program: Command): void {
  withoutGlobalHelp(program.command("serve"))
    .description("run one node (flags as etcd's; --config sets the same keys, flags win)")
    .option("--name <name>", "this node's name, as listed in --initial-cluster")
    .option("--data-dir <dir>", "where the WAL, snapshots and engine data live")
    .option("--listen-client <host:port>", "WebSocket /v1, /health, /metrics and /dashboard")
    .option("--listen-peer <host:port>", "Raft traffic from the other nodes")
    .option("--listen-etcd <host:port>", "etcd's v3 gRPC API (docs/etcd-compat.md)")
    .option("--initial-cluster <list>", "name=host:port,… every member's peer address")
    .addOption(
      new Option(
        "--initial-cluster-state <state>",
        "new: bootstrap; existing: join a running cluster",
      ).choices(["new", "existing"]),
    )
    .option("--config <file>", "a JSON config file (see docs/configuration.md)")
    .action(async (options: Record<string, string | undefined>) => {
      const { loadConfig, ConfigError } = await import("../config.js");
      const { StageraftNode, StartupError } = await import("../node.js");
      let node: Awaited<ReturnType<typeof StageraftNode.start>>;
      try {
        const config = loadConfig(
          {
            name: options.name,
            dataDir: options.dataDir,
            listenClient: options.listenClient,
            listenPeer: options.listenPeer,
            listenEtcd: options.listenEtcd,
            initialCluster: options.initialCluster,
            initialClusterState: options.initialClusterState,
          },
          options.config,
        );
        node = await StageraftNode.start(config);
      } catch (error) {
        if (error instanceof ConfigError || error instanceof StartupError) {
          process.stderr.write(`stageraft serve: ${error.message}\n`);
          process.exit(1);
        }
        throw error;
      }
      // Exit 0 once every step of the stop finished; 1 when one overran the deadline or failed
      // (logged with what it was waiting for), which is as safe as kill -9.
      const shutdown = (signal: string) => {
        node.log.info({ signal }, "shutting down");
        void node.stop().then((outcome) => process.exit(outcome === "clean" ? 0 : 1));
      };
      process.once("SIGTERM", () => shutdown("SIGTERM"));
      process.once("SIGINT", () => shutdown("SIGINT"));
      // A removed member must not serve (etcd does the same): stop cleanly and exit 0, so that a
      // supervisor restarting on failure leaves it stopped.
      void node.removed.then((reason) => {
        node.log.warn({ reason }, "removed from the cluster: stopping, exit code 0");
        shutdown("removed");
      });
    });
}
