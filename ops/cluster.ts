/**
 * npm start: a local 3-node cluster on 127.0.0.1 (clients 7001–7003, peers 8001–8003), data
 * under ./data/. Each node's JSON log goes to ./data/<name>.log; Ctrl-C (SIGINT) or SIGTERM
 * stops them all. STAGERAFT_DATA, STAGERAFT_CLIENT_PORTS and STAGERAFT_PEER_PORTS (three
 * comma-separated ports each) move it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const cli = join(root, "dist", "src", "cli.js");
const dataDir = resolve(process.env.STAGERAFT_DATA ?? "data");
const names = ["n1", "n2", "n3"];
const clientPorts = ports("STAGERAFT_CLIENT_PORTS", 7001);
const peerPorts = ports("STAGERAFT_PEER_PORTS", 8001);
const initialCluster = names.map((name, k) => `${name}=127.0.0.1:${peerPorts[k]}`).join(",");
const children = new Map<string, ChildProcess>();
let stopping = false;

mkdirSync(dataDir, { recursive: true });
for (const [k, name] of names.entries()) {
  const log = createWriteStream(join(dataDir, `${name}.log`), { flags: "a" });
  const args = [
    cli,
    "serve",
    "--name",
    name,
    "--data-dir",
    join(dataDir, name),
    "--listen-client",
    `127.0.0.1:${clientPorts[k]}`,
    "--listen-peer",
    `127.0.0.1:${peerPorts[k]}`,
    "--initial-cluster",
    initialCluster,
  ];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  children.set(name, child);
  child.stdout.pipe(log);
  child.stderr.on("data", (chunk: Buffer) => process.stderr.write(`[${name}] ${chunk}`));
  child.on("exit", (code, signal) => {
    children.delete(name);
    if (!stopping) {
      process.stderr.write(
        `${name} exited (${signal ?? code}); see ${join(dataDir, `${name}.log`)}\n`,
      );
    }
    if (children.size === 0) process.exit(stopping ? 0 : 1);
  });
}

process.stdout.write(`stageraft: a 3-node cluster on 127.0.0.1, data in ${dataDir}\n`);
for (const [k, name] of names.entries()) {
  process.stdout.write(
    `  ${name}  client ws://127.0.0.1:${clientPorts[k]}/v1  peer 127.0.0.1:${peerPorts[k]}  ` +
      `dashboard http://127.0.0.1:${clientPorts[k]}/dashboard  log ${join(dataDir, `${name}.log`)}  pid ${children.get(name)?.pid}\n`,
  );
}
const endpoints = clientPorts.map((port) => `127.0.0.1:${port}`).join(",");
process.stdout.write(
  `try:  export STAGERAFT_ENDPOINTS=${endpoints}\n` +
    "      node dist/src/cli.js put hello world      (or stageraft …, after npm link)\n" +
    "      node dist/src/cli.js endpoint status -w table\n" +
    "Ctrl-C stops the cluster.\n",
);

function stop(): void {
  if (stopping) return;
  stopping = true;
  process.stdout.write("\nstopping the cluster…\n");
  for (const child of children.values()) child.kill("SIGTERM");
  setTimeout(() => {
    for (const child of children.values()) child.kill("SIGKILL");
  }, 5_000).unref();
}

process.on("SIGINT", stop);
process.on("SIGTERM", stop);
// npm start execs this script (package.json), so npm's forwarded SIGTERM reaches it; should
// whatever started it die without a word (kill -9 of npm, of a shell), stop the nodes too.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) stop();
}, 500).unref();

function ports(variable: string, first: number): number[] {
  const listed = process.env[variable]?.split(",").map(Number);
  if (listed === undefined) return names.map((_, k) => first + k);
  if (listed.length !== names.length || !listed.every((p) => Number.isInteger(p) && p > 0)) {
    process.stderr.write(`${variable} must be ${names.length} comma-separated ports\n`);
    process.exit(2);
  }
  return listed;
}
