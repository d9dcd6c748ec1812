import { type Command, InvalidArgumentError } from "commander";
import type { StageraftClient } from "../client/client.js";
import { CliExit, integer, print, run, table } from "./common.js";

/**
 * `stageraft lease grant|keep-alive|revoke|timetolive|list`, as etcdctl's lease commands
 * (same words in the simple output). Exit codes are common.ts's.
 */

function ttlSeconds(value: string): number {
  const ttl = integer(value);
  if (ttl < 1) throw new InvalidArgumentError("must be an integer number of seconds, at least 1");
  return ttl;
}

export function registerLeaseCommands(program: Command): void {
  const lease = program.command("lease").description("lease commands (grant, keep-alive, …)");

  lease
    .command("grant")
    .description("grant a lease of <ttl> seconds (prints its id)")
    .argument("<ttl>", "seconds", ttlSeconds)
    .action(async (ttl: number, _options, command: Command) =>
      run(command, async (client, { write }) => {
        const result = await client.leases.grant(ttl);
        if (write === "json") print(JSON.stringify(result));
        else if (write === "table") print(table([[result.lease, result.ttl]], ["id", "ttl"]));
        else print(`lease ${result.lease} granted with TTL(${result.ttl}s)`);
        return CliExit.ok;
      }),
    );

  lease
    .command("revoke")
    .description("revoke a lease and delete its keys")
    .argument("<id>")
    .action(async (id: string, _options, command: Command) =>
      run(command, async (client, { write }) => {
        const result = await client.leases.revoke(id);
        print(write === "json" ? JSON.stringify(result) : `lease ${id} revoked`);
        return CliExit.ok;
      }),
    );

  lease
    .command("timetolive")
    .description("a lease's remaining and granted ttl")
    .argument("<id>")
    .option("--keys", "also list the keys attached")
    .action(async (id: string, options: { keys?: boolean }, command: Command) =>
      run(command, async (client, { write }) => {
        const result = await client.leases.timeToLive(id, { keys: options.keys === true });
        if (write === "json") print(JSON.stringify(result));
        else if (result.ttl === -1) print(`lease ${id} already expired`);
        else if (write === "table")
          print(
            table(
              [[id, result.grantedTtl, result.ttl, result.keys?.join(" ") ?? ""]],
              ["id", "granted", "remaining", "keys"],
            ),
          );
        else
          print(
            `lease ${id} granted with TTL(${result.grantedTtl}s), remaining(${result.ttl}s)` +
              (result.keys ? `, attached keys([${result.keys.join(" ")}])` : ""),
          );
        return CliExit.ok;
      }),
    );

  lease
    .command("list")
    .description("the ids of every lease")
    .action(async (_options, command: Command) =>
      run(command, async (client, { write }) => {
        const leases = await client.leases.list();
        if (write === "json") print(JSON.stringify({ leases }));
        else if (write === "table")
          print(
            table(
              leases.map((id) => [id]),
              ["id"],
            ),
          );
        else print([`found ${leases.length} leases`, ...leases].join("\n"));
        return CliExit.ok;
      }),
    );

  lease
    .command("keep-alive")
    .description("keep a lease alive until interrupted (or once, with --once)")
    .argument("<id>")
    .option("--once", "one keep-alive, then exit")
    .action(async (id: string, options: { once?: boolean }, command: Command) =>
      run(command, (client, { write }) => keepAlive(client, id, options.once === true, write)),
    );
}

/** Keep-alives at a third of the ttl, each printed, until Ctrl-C or the lease is gone. */
async function keepAlive(
  client: StageraftClient,
  id: string,
  once: boolean,
  write: string,
): Promise<number> {
  let stopped = false;
  const stop = () => {
    stopped = true;
  };
  process.once("SIGINT", stop);
  try {
    for (;;) {
      const { ttl } = await client.leases.keepAlive(id);
      print(
        write === "json"
          ? JSON.stringify({ lease: id, ttl })
          : `lease ${id} keepalived with TTL(${ttl})`,
      );
      if (once) return CliExit.ok;
      const until = Date.now() + Math.max(500, (ttl * 1000) / 3);
      while (!stopped && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      if (stopped) return CliExit.ok;
    }
  } finally {
    process.removeListener("SIGINT", stop);
  }
}
