import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { connect, type StageraftClient } from "../../src/mod.js";

/** Real `stageraft serve` processes on loopback: free ports, temp data dirs, always stopped. */

const cli = fileURLToPath(new URL("../../dist/src/cli.js", import.meta.url));
const execFileAsync = promisify(execFile);

/**
 * Ports below 32768, outside Linux's ephemeral range (so no outgoing connection takes one
 * between our check and the node's listen), each test worker in its own slice of 5,000 (two
 * files run at once), never the same port twice in a process (port 0 can give one twice).
 */
const PORT_SLICE = 5_000;
const firstPort = 10_000 + ((Number(process.env.VITEST_POOL_ID ?? 1) - 1) % 4) * PORT_SLICE;
let nextPort = firstPort + ((process.pid * 7) % PORT_SLICE);
const handedOut = new Set<number>();

export async function freePort(): Promise<number> {
  for (let tries = 0; tries < PORT_SLICE; tries++) {
    const port = nextPort;
    nextPort = firstPort + ((nextPort - firstPort + 1) % PORT_SLICE);
    if (handedOut.has(port) || !(await canListen(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port in [${firstPort}, ${firstPort + PORT_SLICE})`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

export interface NodeProcess {
  readonly name: string;
  readonly client: string;
  readonly peer: string;
  readonly dataDir: string;
  process: ChildProcess | null;
  output: string;
  exitCode: number | null;
  exited: Promise<number | null>;
}

/** Test-friendly timings: a 20 ms tick, elections in 200–400 ms. */
export const fastRaft = { tickMs: 20, electionTicks: 10, heartbeatTicks: 2 };

export class TestCluster {
  readonly nodes: NodeProcess[] = [];
  private readonly clients: StageraftClient[] = [];
  /** Flags every spawn of a node adds (set in `prepare`, e.g. a --listen-etcd per node). */
  nodeArgs: (node: NodeProcess) => string[] = () => [];

  private constructor(
    readonly root: string,
    private readonly configPath: string,
  ) {}

  /**
   * Start `size` nodes and wait for a leader. A free port can be taken by someone else between
   * our probe and the node's listen: then everything started is stopped and the start retried
   * on new ports (never leaving processes or temp dirs behind).
   */
  static async start(
    size: number,
    config: Record<string, unknown> = {},
    /** Runs before the nodes are spawned (their data dirs and ports are known). */
    prepare?: (cluster: TestCluster) => Promise<void>,
  ): Promise<TestCluster> {
    for (let attempt = 1; ; attempt++) {
      const cluster = await TestCluster.startOnce(size, config, prepare);
      try {
        await cluster.waitForLeader();
        return cluster;
      } catch (error) {
        const portTaken = cluster.nodes.some((node) =>
          /cannot listen|port in use|EADDRINUSE/.test(node.output),
        );
        await cluster.stop();
        if (!portTaken || attempt >= 3) throw error;
      }
    }
  }

  /** A new cluster whose members are restored from a saved snapshot (snapshot restore). */
  static restored(
    size: number,
    snapshotFile: string,
    config: Record<string, unknown> = {},
  ): Promise<TestCluster> {
    return TestCluster.start(size, config, async (cluster) => {
      for (const node of cluster.nodes) {
        const args = ["snapshot", "restore", snapshotFile, "--name", node.name];
        args.push("--data-dir", node.dataDir, "--initial-cluster", cluster.initialCluster);
        const { stderr } = await execFileAsync(process.execPath, [cli, ...args]);
        if (stderr !== "") throw new Error(`snapshot restore of ${node.name}: ${stderr}`);
      }
    });
  }

  private static async startOnce(
    size: number,
    config: Record<string, unknown>,
    prepare?: (cluster: TestCluster) => Promise<void>,
  ): Promise<TestCluster> {
    if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first`);
    const root = await mkdtemp(join(tmpdir(), "stageraft-it-"));
    const configPath = join(root, "config.json");
    await writeFile(
      configPath,
      JSON.stringify({ raft: fastRaft, log: { level: "info" }, ...config }),
    );
    const cluster = new TestCluster(root, configPath);
    const names = Array.from({ length: size }, (_, k) => `n${k + 1}`);
    for (const name of names) {
      cluster.nodes.push({
        name,
        client: `127.0.0.1:${await freePort()}`,
        peer: `127.0.0.1:${await freePort()}`,
        dataDir: join(root, name),
        process: null,
        output: "",
        exitCode: null,
        exited: Promise.resolve(null),
      });
    }
    await prepare?.(cluster);
    for (const node of cluster.nodes) cluster.spawn(node);
    return cluster;
  }

  get initialCluster(): string {
    return this.nodes.map((node) => `${node.name}=${node.peer}`).join(",");
  }

  node(name: string): NodeProcess {
    const node = this.nodes.find((n) => n.name === name);
    if (node === undefined) throw new Error(`no node ${name}`);
    return node;
  }

  spawn(node: NodeProcess, extraArgs: readonly string[] = []): void {
    const args = [
      cli,
      "serve",
      "--name",
      node.name,
      "--data-dir",
      node.dataDir,
      "--listen-client",
      node.client,
      "--listen-peer",
      node.peer,
      "--initial-cluster",
      this.initialCluster,
      "--config",
      this.configPath,
      ...this.nodeArgs(node),
      ...extraArgs,
    ];
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    node.process = child;
    node.exitCode = null;
    const append = (chunk: Buffer) => {
      node.output += chunk.toString();
      if (node.output.length > 2_000_000) node.output = node.output.slice(-1_000_000);
    };
    child.stdout?.on("data", append);
    child.stderr?.on("data", append);
    node.exited = new Promise((resolveExit) => {
      child.once("exit", (code, signal) => {
        node.exitCode = code ?? (signal ? 128 : null);
        node.process = null;
        resolveExit(node.exitCode);
      });
    });
  }

  /** kill -9 (or another signal) and wait for the exit when the signal is fatal. */
  async kill(name: string, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const node = this.node(name);
    if (node.process === null) return;
    node.process.kill(signal);
    if (signal === "SIGKILL" || signal === "SIGTERM") await node.exited;
  }

  restart(name: string): void {
    this.spawn(this.node(name));
  }

  /** A new node on free ports that joins the running cluster (--initial-cluster-state existing). */
  async join(name: string): Promise<NodeProcess> {
    const node: NodeProcess = {
      name,
      client: `127.0.0.1:${await freePort()}`,
      peer: `127.0.0.1:${await freePort()}`,
      dataDir: join(this.root, name),
      process: null,
      output: "",
      exitCode: null,
      exited: Promise.resolve(null),
    };
    this.nodes.push(node);
    this.spawn(node, ["--initial-cluster-state", "existing"]);
    return node;
  }

  async health(name: string): Promise<Record<string, unknown> | null> {
    try {
      const response = await fetch(`http://${this.node(name).client}/health`, {
        signal: AbortSignal.timeout(1_000),
      });
      return (await response.json()) as Record<string, unknown>;
    } catch {
      return null;
    }
  }

  /** The name of the node every live node agrees leads, once they do. */
  async waitForLeader(
    timeoutMs = 15_000,
    among: readonly string[] = this.nodes.filter((n) => n.process).map((n) => n.name),
  ): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const healths = await Promise.all(among.map((name) => this.health(name)));
      const leaders = new Set(healths.map((h) => h?.leader ?? null));
      const leader = [...leaders][0];
      if (
        leaders.size === 1 &&
        typeof leader === "string" &&
        healths.some((h) => h?.role === "leader")
      )
        return leader;
      await sleep(50);
    }
    throw new Error(
      `no agreed leader among ${among.join(",")} within ${timeoutMs} ms\n${this.tail()}`,
    );
  }

  /** Wait until `predicate` holds for a node's /health. */
  async waitForHealth(
    name: string,
    predicate: (health: Record<string, unknown>) => boolean,
    timeoutMs = 15_000,
  ): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const health = await this.health(name);
      if (health !== null && predicate(health)) return health;
      await sleep(50);
    }
    throw new Error(
      `${name} did not reach the expected state within ${timeoutMs} ms: ${JSON.stringify(await this.health(name))}\n${this.tail()}`,
    );
  }

  client(
    names: readonly string[] = this.nodes.map((n) => n.name),
    options: Parameters<typeof connect>[1] = {},
  ): StageraftClient {
    const client = connect(
      names.map((name) => this.node(name).client),
      options,
    );
    this.clients.push(client);
    return client;
  }

  /** Wait until a node's output (read asynchronously from its pipe) contains `text`. */
  async waitForOutput(name: string, text: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.node(name).output.includes(text)) {
      if (Date.now() > deadline) throw new Error(`${name} never logged "${text}"\n${this.tail()}`);
      await sleep(25);
    }
  }

  tail(lines = 30): string {
    return this.nodes
      .map((node) => `--- ${node.name}\n${node.output.trim().split("\n").slice(-lines).join("\n")}`)
      .join("\n");
  }

  async stop(): Promise<void> {
    for (const client of this.clients) client.close();
    for (const node of this.nodes) {
      if (node.process === null) continue;
      node.process.kill("SIGCONT");
      node.process.kill("SIGKILL");
      await node.exited;
    }
    await rm(this.root, { recursive: true, force: true });
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
}
