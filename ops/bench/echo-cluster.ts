/** The bare echo server (echo-server.ts) as a one-node "cluster", so phases measure it alike. */
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  type BenchCluster,
  describeNodes,
  fetchJson,
  freePort,
  type LeaderInfo,
  makeTempRoot,
  type NodeTerm,
  removeTempRoot,
  ServerProcess,
  sleep,
} from "./processes.js";

export class EchoServer implements BenchCluster {
  readonly system = "echo" as const;

  private constructor(
    readonly root: string,
    readonly nodes: ServerProcess[],
  ) {}

  static async start(options: {
    script: string;
    parentDir: string;
    startTimeoutMs: number;
  }): Promise<EchoServer> {
    if (!existsSync(options.script))
      throw new Error(`${options.script} is missing: run \`npm run build\` first`);
    const root = await makeTempRoot(options.parentDir, "echo-bench-");
    const node = new ServerProcess("echo", `127.0.0.1:${await freePort()}`, "", join(root, "echo"));
    node.start(process.execPath, [options.script, node.clientAddress]);
    const server = new EchoServer(root, [node]);
    try {
      await server.waitForLeader(options.startTimeoutMs);
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  /** The one process, as its own "leader" (term 0) once it answers /health. */
  async leader(): Promise<LeaderInfo | null> {
    const node = this.nodes[0]!;
    if (!node.alive) return null;
    try {
      await fetchJson(`http://${node.clientAddress}/health`);
      return { name: node.name, term: 0 };
    } catch {
      return null;
    }
  }

  async waitForLeader(timeoutMs: number): Promise<LeaderInfo> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.nodes[0]!.alive) break;
      const leader = await this.leader();
      if (leader !== null) return leader;
      await sleep(50);
    }
    throw new Error(
      `echo server did not answer within ${timeoutMs} ms\n${describeNodes(this.nodes)}`,
    );
  }

  async terms(): Promise<(NodeTerm | null)[]> {
    return [(await this.leader()) === null ? null : { term: 0, leader: "echo" }];
  }

  async leaderDetails(): Promise<unknown> {
    return null;
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.kill()));
    await removeTempRoot(this.root);
  }
}
