#!/usr/bin/env node
import { Command } from "commander";
import { addGlobalOptions } from "./cli/common.js";
import { registerEndpointCommands } from "./cli/endpoint.js";
import { registerKvCommands } from "./cli/kv.js";
import { registerLeaseCommands } from "./cli/lease.js";
import { registerMemberCommands } from "./cli/members.js";
import { registerRemu } from "./cli/remu.js";
import { registerRevisionCommands } from "./cli/revisions.js";
import { registerServe } from "./cli/serve.js";
import { registerSnapshotCommands } from "./cli/snapshot.js";
import { registerVectorCommands } from "./cli/vector.js";
import { registerWatchCommand } from "./cli/watch.js";

/**
 * The stageraft command. Each command group lives in src/cli/<group>.ts and exports a
 * `register…(program)`; adding one is an import and a line in this table.
 */
const commandGroups: readonly ((program: Command) => void)[] = [
  registerServe, // serve
  registerKvCommands, // put, get, del, cas, incr, scan
  registerLeaseCommands, // lease grant|keep-alive|revoke|timetolive|list
  registerEndpointCommands, // endpoint health|status, status
  registerMemberCommands, // members, member add|remove|promote, transfer-leader
  registerSnapshotCommands, // snapshot, snapshot save|restore
  registerRevisionCommands, // compact, txn
  registerVectorCommands, // vector create|list|info|drop|put|get|search|count|delete
  registerWatchCommand, // watch
  registerRemu, // remu
];

const program = new Command("stageraft")
  .description(
    "stageraft: a Raft-replicated key-value and vector store, and remu, its Raft emulator",
  )
  .version("0.1.0");

// Usage errors exit 2 (etcdctl's habit); --help and --version exit 0. Set before the
// subcommands are added: commander copies the setting (and the help's) into each.
program.exitOverride((error) => {
  process.exit(error.exitCode === 0 ? 0 : 2);
});
addGlobalOptions(program);
for (const register of commandGroups) register(program);

// A reader that goes away (`stageraft remu --verbose | head`) ends the output, not in a crash.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  process.exit(process.exitCode ?? 0);
});

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`stageraft: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
