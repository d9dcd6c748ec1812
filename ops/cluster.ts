/**
 * npm start: a local 3-node cluster on 127.0.0.1 (clients 7001–7003, peers 8001–8003), data
 * under ./data/. Each node's JSON log goes to ./data/<name>.log; Ctrl-C stops them all.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const cli = join(root, "dist", "src", "cli.js");
const dataDir = resolve(process.env.STAGERAFT_DATA ?? "data");
const names = ["n1", "n2", "n3"];
const initialCluster = names.map((name, k) => `${name}=127.0.0.1:${8001 + k}`).join(",");
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
    `127.0.0.1:${7001 + k}`,
    "--listen-peer",
    `127.0.0.1:${8001 + k}`,
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
    `  ${name}  client ws://127.0.0.1:${7001 + k}/v1  peer 127.0.0.1:${8001 + k}  ` +
      `dashboard http://127.0.0.1:${7001 + k}/dashboard  log ${join(dataDir, `${name}.log`)}\n`,
  );
}
process.stdout.write(
  "try:  npx stageraft put hello world --endpoints 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003\n" +
    "      npx stageraft status -w table --endpoints 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003\n" +
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
