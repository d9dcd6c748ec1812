/**
 * The server processes the bench starts, on loopback free ports with temp data dirs, and what a
 * cluster of them answers (BenchCluster). Every child and temp dir is tracked here so that the
 * bench can stop and remove them on any exit (normal end, error, Ctrl-C, global timeout).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";

export type SystemName = "stageraft" | "etcd" | "echo";

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

  private command: { readonly file: string; readonly args: readonly string[] } | null = null;

  start(command: string, args: readonly string[]): void {
    this.command = { file: command, args };
    this.exitDescription = null;
    this.shutdownSignal = null;
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

  /** Start it again as it was started last (same ports, same data dir). */
  restart(): void {
    if (this.command === null) throw new Error(`${this.name} was never started`);
    if (this.alive) throw new Error(`${this.name} is still running`);
    this.start(this.command.file, this.command.args);
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

export interface LeaderInfo {
  readonly name: string;
  readonly term: number;
}

export interface NodeTerm {
  readonly term: number;
  /** The leader's name as this node knows it, or null. */
  readonly leader: string | null;
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
  /** Each node's term and the leader it follows (null: unreachable), for counting elections. */
  terms(): Promise<(NodeTerm | null)[]>;
  /** A small description of the leader's state for the JSON report (stages, queues…). */
  leaderDetails(): Promise<unknown>;
  stop(): Promise<void>;
}

export async function fetchJson(url: string, init: RequestInit = {}): Promise<unknown> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(1_500) });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

/**
 * Poll `leader()` until the nodes agree on one, failing at once if a node exits (`what` names
 * the system and its members in the errors: "stageraft node", "etcd member").
 */
export async function waitForAgreedLeader(
  nodes: readonly ServerProcess[],
  leader: () => Promise<LeaderInfo | null>,
  what: { readonly system: string; readonly member: string },
  timeoutMs: number,
): Promise<LeaderInfo> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const dead = nodes.filter((node) => !node.alive);
    if (dead.length > 0)
      throw new Error(
        `${what.member} ${dead.map((n) => `${n.name} (${n.exitDescription})`).join(", ")} exited during start\n${describeNodes(nodes)}`,
      );
    const found = await leader();
    if (found !== null) return found;
    await sleep(100);
  }
  throw new Error(
    `${what.system}: no agreed leader within ${timeoutMs} ms\n${describeNodes(nodes)}`,
  );
}

export function describeNodes(nodes: readonly ServerProcess[]): string {
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

/** Three server processes named PREFIX1..3 on free loopback ports, data under `root`. */
export async function threeServers(prefix: string, root: string): Promise<ServerProcess[]> {
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
