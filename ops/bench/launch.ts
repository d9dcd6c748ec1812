/**
 * The bench's own launchers: a 3-node stageraft cluster and a 3-member etcd cluster on loopback
 * free ports with temp data dirs. Every child and temp dir is tracked here so that the bench can
 * stop and remove them on any exit (normal end, error, Ctrl-C, global timeout).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";

export type SystemName = "stageraft" | "etcd";

const liveChildren = new Set<ChildProcess>();
const tempDirs = new Set<string>();

/** Last resort, synchronous (usable from process.on("exit")): kill every child, remove temp dirs. */
export function killEverythingSync(): void {
  for (const child of liveChildren) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  liveChildren.clear();
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
  tempDirs.clear();
}

export async function makeTempRoot(parent: string, prefix: string): Promise<string> {
  await mkdir(parent, { recursive: true });
  const dir = await mkdtemp(join(parent, prefix));
  tempDirs.add(dir);
  return dir;
}

export async function removeTempRoot(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** Distinct free ports (the OS may hand the same port out twice in a row). */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  for (let attempt = 0; ports.size < count && attempt < count * 20; attempt++)
    ports.add(await freePort());
  if (ports.size < count) throw new Error(`could not find ${count} free ports`);
  return [...ports];
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
}

/** A server process with its output tail and a count of the warn/error lines it logged. */
export class ServerProcess {
  child: ChildProcess | null = null;
  exitDescription: string | null = null;
  exited: Promise<void> = Promise.resolve();
  private readonly tailLines: string[] = [];
  private partial = "";
  warnLines = 0;
  errorLines = 0;
  /** The first few warn/error/unparsed lines, for the report. */
  readonly problems: string[] = [];
  private readonly exitListeners: ((description: string) => void)[] = [];
  /** warn/error/unparsed lines by message, e.g. "warn: apply request took too long" → 45. */
  readonly messageCounts = new Map<string, number>();
  /** Set when the server logged a clean shutdown on a signal (stageraft: "shutting down"). */
  shutdownSignal: string | null = null;

  constructor(
    readonly name: string,
    readonly clientAddress: string,
    readonly peerAddress: string,
    readonly dataDir: string,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get alive(): boolean {
    return this.child !== null;
  }

  /** Call `listener` when the process exits; returns the function that unsubscribes it. */
  onExit(listener: (description: string) => void): () => void {
    this.exitListeners.push(listener);
    return () => {
      const index = this.exitListeners.indexOf(listener);
      if (index >= 0) this.exitListeners.splice(index, 1);
    };
  }

  start(command: string, args: readonly string[]): void {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    liveChildren.add(child);
    child.stdout?.on("data", (chunk: Buffer) => this.take(chunk));
    child.stderr?.on("data", (chunk: Buffer) => this.take(chunk));
    this.exited = new Promise((resolveExit) => {
      child.once("error", (error) => {
        this.exitDescription = `could not start: ${error.message}`;
      });
      child.once("exit", (code, signal) => {
        liveChildren.delete(child);
        this.child = null;
        this.exitDescription ??=
          signal !== null
            ? `killed by ${signal}`
            : this.shutdownSignal !== null
              ? `exit code ${code} after a clean shutdown on ${this.shutdownSignal}, a signal the bench never sends (it stops its servers with SIGKILL): something else signalled it`
              : `exit code ${code}`;
        for (const listener of [...this.exitListeners]) listener(this.exitDescription);
        resolveExit();
      });
    });
  }

  private take(chunk: Buffer): void {
    const text = this.partial + chunk.toString();
    const lines = text.split("\n");
    this.partial = lines.pop() ?? "";
    if (this.partial.length > 64 * 1024) this.partial = this.partial.slice(-64 * 1024);
    for (const line of lines) this.line(line);
  }

  private line(line: string): void {
    if (line.trim() === "") return;
    this.tailLines.push(line.length > 2_000 ? `${line.slice(0, 2_000)}…` : line);
    if (this.tailLines.length > 60) this.tailLines.shift();
    let severity: "warn" | "error" | "other" | null = null;
    let message = line.slice(0, 120);
    try {
      const record = JSON.parse(line) as { level?: unknown; msg?: unknown; signal?: unknown };
      message = typeof record.msg === "string" ? record.msg.slice(0, 120) : "(no msg)";
      const level = record.level;
      if (record.msg === "shutting down" && typeof record.signal === "string")
        this.shutdownSignal = record.signal;
      // pino: 40 warn, 50 error, 60 fatal; zap (etcd): "warn", "error", "dpanic", "panic", "fatal".
      if (typeof level === "number") severity = level >= 50 ? "error" : level >= 40 ? "warn" : null;
      else if (typeof level === "string")
        severity =
          level === "warn" ? "warn" : level === "info" || level === "debug" ? null : "error";
    } catch {
      severity = "other";
    }
    if (severity !== null) {
      const key = `${severity === "other" ? "unparsed" : severity}: ${message}`;
      this.messageCounts.set(key, (this.messageCounts.get(key) ?? 0) + 1);
    }
    if (severity === "warn") this.warnLines++;
    if (severity === "error") this.errorLines++;
    if (severity !== null && this.problems.length < 5)
      this.problems.push(line.length > 500 ? `${line.slice(0, 500)}…` : line);
  }

  tail(lines = 20): string {
    return this.tailLines.slice(-lines).join("\n");
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (child === null) return;
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await Promise.race([this.exited, sleep(5_000)]);
  }
}

let clockTicks: number | null = null;
function ticksPerSecond(): number {
  if (clockTicks === null) {
    try {
      clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    } catch {
      clockTicks = 100;
    }
    if (!Number.isFinite(clockTicks) || clockTicks <= 0) clockTicks = 100;
  }
  return clockTicks;
}

/** CPU seconds (user + system, all threads) a process has used, from /proc; null elsewhere. */
export function cpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
  } catch {
    return null;
  }
}

/**
 * CPU seconds every process on the machine has used (user, nice and system time of all cores,
 * from /proc/stat; interrupt and steal time are left out, as no process is charged for them).
 */
export function machineBusySeconds(): number | null {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
    const [label, user, nice, system] = line.trim().split(/\s+/);
    if (label !== "cpu") return null;
    const busy = Number(user) + Number(nice) + Number(system);
    return Number.isFinite(busy) ? busy / ticksPerSecond() : null;
  } catch {
    return null;
  }
}

export interface LeaderInfo {
  readonly name: string;
  readonly term: number;
}

export interface BenchCluster {
  readonly system: SystemName;
  readonly nodes: readonly ServerProcess[];
  /** Where the data dirs live (for df and for cleanup). */
  readonly root: string;
  /** The leader every reachable member agrees on, or null. */
  leader(): Promise<LeaderInfo | null>;
  /** Wait until a leader is agreed; throws with the nodes' output past the timeout. */
  waitForLeader(timeoutMs: number): Promise<LeaderInfo>;
  /** A small description of the leader's state for the JSON report (stages, queues…). */
  leaderDetails(): Promise<unknown>;
  stop(): Promise<void>;
}

async function fetchJson(url: string, init: RequestInit = {}): Promise<unknown> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(1_500) });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

function describeNodes(nodes: readonly ServerProcess[]): string {
  return nodes
    .map(
      (node) =>
        `--- ${node.name} (${node.alive ? "running" : (node.exitDescription ?? "stopped")})\n${node.tail()}`,
    )
    .join("\n");
}

export interface RaftTiming {
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
}

export class StageraftCluster implements BenchCluster {
  readonly system = "stageraft" as const;

  private constructor(
    readonly root: string,
    readonly nodes: ServerProcess[],
  ) {}

  static async start(options: {
    cli: string;
    parentDir: string;
    config: Record<string, unknown>;
    startTimeoutMs: number;
  }): Promise<StageraftCluster> {
    if (!existsSync(options.cli))
      throw new Error(`${options.cli} is missing: run \`npm run build\` first`);
    const root = await makeTempRoot(options.parentDir, "stageraft-bench-");
    const configPath = join(root, "config.json");
    await writeFile(configPath, JSON.stringify(options.config, null, 2));
    const nodes = await threeServers("n", root);
    const cluster = new StageraftCluster(root, nodes);
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

  async waitForLeader(timeoutMs: number): Promise<LeaderInfo> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const dead = this.nodes.filter((node) => !node.alive);
      if (dead.length > 0)
        throw new Error(
          `stageraft node ${dead.map((n) => `${n.name} (${n.exitDescription})`).join(", ")} exited during start\n${describeNodes(this.nodes)}`,
        );
      const leader = await this.leader();
      if (leader !== null) return leader;
      await sleep(100);
    }
    throw new Error(
      `stageraft: no agreed leader within ${timeoutMs} ms\n${describeNodes(this.nodes)}`,
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

  async waitForLeader(timeoutMs: number): Promise<LeaderInfo> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const dead = this.nodes.filter((node) => !node.alive);
      if (dead.length > 0)
        throw new Error(
          `etcd member ${dead.map((n) => `${n.name} (${n.exitDescription})`).join(", ")} exited during start\n${describeNodes(this.nodes)}`,
        );
      const leader = await this.leader();
      if (leader !== null) return leader;
      await sleep(100);
    }
    throw new Error(`etcd: no agreed leader within ${timeoutMs} ms\n${describeNodes(this.nodes)}`);
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

/** Three server processes named PREFIX1..3 on free loopback ports, data under `root`. */
async function threeServers(prefix: string, root: string): Promise<ServerProcess[]> {
  const ports = await freePorts(6);
  return [0, 1, 2].map(
    (k) =>
      new ServerProcess(
        `${prefix}${k + 1}`,
        `127.0.0.1:${ports[2 * k]}`,
        `127.0.0.1:${ports[2 * k + 1]}`,
        join(root, `${prefix}${k + 1}`),
      ),
  );
}
