/** A 3-node stageraft cluster on loopback for the bench (`node dist/src/cli.js serve`). */
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type BenchCluster,
  freePorts,
  type LeaderInfo,
  makeTempRoot,
  type NodeTerm,
  removeTempRoot,
  type ServerProcess,
  threeServers,
  waitForAgreedLeader,
} from "./processes.js";

export class StageraftCluster implements BenchCluster {
  readonly system = "stageraft" as const;

  private constructor(
    readonly root: string,
    readonly nodes: ServerProcess[],
    /** Each node's etcd v3 gRPC address (`--listen-etcd`) by name, when started with `etcdApi`. */
    readonly etcdAddresses: ReadonlyMap<string, string>,
  ) {}

  static async start(options: {
    cli: string;
    parentDir: string;
    config: Record<string, unknown>;
    startTimeoutMs: number;
    /** Also serve etcd's v3 gRPC API on a free port per node (docs/etcd-compat.md). */
    etcdApi?: boolean;
  }): Promise<StageraftCluster> {
    if (!existsSync(options.cli))
      throw new Error(`${options.cli} is missing: run \`npm run build\` first`);
    const root = await makeTempRoot(options.parentDir, "stageraft-bench-");
    const configPath = join(root, "config.json");
    await writeFile(configPath, JSON.stringify(options.config, null, 2));
    const nodes = await threeServers("n", root);
    // Not a port threeServers handed out already (the OS may hand a closed one out again).
    const taken = new Set(nodes.flatMap((n) => [n.clientAddress, n.peerAddress]));
    const etcdPorts =
      options.etcdApi === true
        ? (await freePorts(nodes.length + 6))
            .filter((port) => !taken.has(`127.0.0.1:${port}`))
            .slice(0, nodes.length)
        : [];
    const etcdAddresses = new Map(
      etcdPorts.map((port, k) => [nodes[k]!.name, `127.0.0.1:${port}`] as const),
    );
    const cluster = new StageraftCluster(root, nodes, etcdAddresses);
    const initialCluster = nodes.map((node) => `${node.name}=${node.peerAddress}`).join(",");
    for (const node of nodes) {
      node.start(process.execPath, [
        options.cli,
        "serve",
        "--name",
        node.name,
        "--data-dir",
        node.dataDir,
        "--listen-client",
        node.clientAddress,
        "--listen-peer",
        node.peerAddress,
        "--initial-cluster",
        initialCluster,
        "--config",
        configPath,
        ...(etcdAddresses.has(node.name) ? ["--listen-etcd", etcdAddresses.get(node.name)!] : []),
      ]);
    }
    try {
      await cluster.waitForLeader(options.startTimeoutMs);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  private async health(node: ServerProcess): Promise<Record<string, unknown> | null> {
    if (!node.alive) return null;
    try {
      // 503 is a node that answers but is not ready (no leader yet): its body still counts.
      const response = await fetch(`http://${node.clientAddress}/health`, {
        signal: AbortSignal.timeout(1_500),
      });
      if (!response.ok && response.status !== 503) return null;
      return (await response.json()) as Record<string, unknown>;
    } catch {
      return null;
    }
  }

  async leader(): Promise<LeaderInfo | null> {
    const healths = await Promise.all(this.nodes.map((node) => this.health(node)));
    const reachable = healths.filter((health) => health !== null);
    if (reachable.length < 2) return null;
    const names = new Set(reachable.map((health) => health.leader ?? null));
    const leading = reachable.find((health) => health.role === "leader");
    const name = [...names][0];
    if (names.size !== 1 || typeof name !== "string" || leading === undefined) return null;
    if (leading.name !== name) return null;
    return { name, term: Number(leading.term) };
  }

  waitForLeader(timeoutMs: number): Promise<LeaderInfo> {
    const what = { system: "stageraft", member: "stageraft node" };
    return waitForAgreedLeader(this.nodes, () => this.leader(), what, timeoutMs);
  }

  async terms(): Promise<(NodeTerm | null)[]> {
    const healths = await Promise.all(this.nodes.map((node) => this.health(node)));
    return healths.map((health) =>
      health === null
        ? null
        : {
            term: Number(health.term),
            leader: typeof health.leader === "string" ? health.leader : null,
          },
    );
  }

  async leaderDetails(): Promise<unknown> {
    const leader = await this.leader();
    const node = this.nodes.find((n) => n.name === leader?.name);
    return node === undefined ? null : this.health(node);
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.kill()));
    await removeTempRoot(this.root);
  }
}
