/** A 3-member etcd cluster on loopback for the bench (the `etcd` binary on the PATH). */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  type BenchCluster,
  fetchJson,
  type LeaderInfo,
  makeTempRoot,
  type NodeTerm,
  type RaftTiming,
  removeTempRoot,
  type ServerProcess,
  threeServers,
  waitForAgreedLeader,
} from "./processes.js";

/** etcd's JSON gateway encodes uint64 as strings. */
interface EtcdStatus {
  header?: { member_id?: string; raft_term?: string };
  leader?: string;
  raftTerm?: string;
  version?: string;
}

export class EtcdCluster implements BenchCluster {
  readonly system = "etcd" as const;
  version = "";

  private constructor(
    readonly root: string,
    readonly nodes: ServerProcess[],
  ) {}

  /** The etcd binary's path, or null when it is not on the PATH. */
  static find(): string | null {
    for (const dir of (process.env.PATH ?? "").split(":")) {
      if (dir === "") continue;
      const candidate = join(dir, "etcd");
      if (existsSync(candidate)) return candidate;
    }
    return null;
  }

  static versionOf(binary: string): string {
    try {
      const text = execFileSync(binary, ["--version"], { encoding: "utf8", timeout: 5_000 });
      return /etcd Version:\s*(\S+)/.exec(text)?.[1] ?? text.split("\n")[0] ?? "?";
    } catch {
      return "?";
    }
  }

  static async start(options: {
    binary: string;
    parentDir: string;
    timing: RaftTiming;
    startTimeoutMs: number;
  }): Promise<EtcdCluster> {
    const root = await makeTempRoot(options.parentDir, "etcd-bench-");
    const nodes = await threeServers("e", root);
    const cluster = new EtcdCluster(root, nodes);
    cluster.version = EtcdCluster.versionOf(options.binary);
    const initialCluster = nodes.map((node) => `${node.name}=http://${node.peerAddress}`).join(",");
    const token = `stageraft-bench-${process.pid}-${Date.now()}`;
    const { tickMs, heartbeatTicks, electionTicks } = options.timing;
    for (const node of nodes) {
      node.start(options.binary, [
        "--name",
        node.name,
        "--data-dir",
        node.dataDir,
        "--listen-client-urls",
        `http://${node.clientAddress}`,
        "--advertise-client-urls",
        `http://${node.clientAddress}`,
        "--listen-peer-urls",
        `http://${node.peerAddress}`,
        "--initial-advertise-peer-urls",
        `http://${node.peerAddress}`,
        "--initial-cluster",
        initialCluster,
        "--initial-cluster-state",
        "new",
        "--initial-cluster-token",
        token,
        // The same Raft timing as the stageraft nodes (etcd's defaults are the same: 100/1000).
        "--heartbeat-interval",
        String(tickMs * heartbeatTicks),
        "--election-timeout",
        String(tickMs * electionTicks),
        "--logger",
        "zap",
        "--log-level",
        "warn",
        "--log-outputs",
        "stderr",
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

  private async status(node: ServerProcess): Promise<EtcdStatus | null> {
    if (!node.alive) return null;
    try {
      return (await fetchJson(`http://${node.clientAddress}/v3/maintenance/status`, {
        method: "POST",
        body: "{}",
        headers: { "content-type": "application/json" },
      })) as EtcdStatus;
    } catch {
      return null;
    }
  }

  async leader(): Promise<LeaderInfo | null> {
    const statuses = await Promise.all(this.nodes.map((node) => this.status(node)));
    const reachable = statuses.filter((status) => status !== null);
    if (reachable.length < 2) return null;
    const leaders = new Set(reachable.map((status) => status.leader ?? "0"));
    const leaderId = [...leaders][0];
    if (leaders.size !== 1 || leaderId === undefined || leaderId === "0") return null;
    const index = statuses.findIndex((status) => status?.header?.member_id === leaderId);
    const leaderStatus = statuses[index];
    if (index < 0 || leaderStatus === null || leaderStatus === undefined) return null;
    return { name: this.nodes[index]!.name, term: Number(leaderStatus.raftTerm ?? 0) };
  }

  waitForLeader(timeoutMs: number): Promise<LeaderInfo> {
    const what = { system: "etcd", member: "etcd member" };
    return waitForAgreedLeader(this.nodes, () => this.leader(), what, timeoutMs);
  }

  async terms(): Promise<(NodeTerm | null)[]> {
    const statuses = await Promise.all(this.nodes.map((node) => this.status(node)));
    return statuses.map((status) => {
      if (status === null) return null;
      const index = statuses.findIndex((other) => other?.header?.member_id === status.leader);
      return { term: Number(status.raftTerm ?? 0), leader: this.nodes[index]?.name ?? null };
    });
  }

  async leaderDetails(): Promise<unknown> {
    const leader = await this.leader();
    const node = this.nodes.find((n) => n.name === leader?.name);
    return node === undefined ? null : this.status(node);
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.kill()));
    await removeTempRoot(this.root);
  }
}
