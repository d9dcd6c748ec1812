import { type Command, InvalidArgumentError, Option } from "commander";
import { connect, type StageraftClient, StageraftError } from "./client/client.js";

/**
 * The etcdctl-like commands. Exit codes scripts can trust:
 *   0 done · 1 the cluster refused (the error code is printed) or a cas did not succeed ·
 *   2 bad usage · 3 no endpoint could be reached · 4 TIMEOUT (the outcome is unknown).
 */
export const CliExit = { ok: 0, refused: 1, usage: 2, unreachable: 3, unknown: 4 } as const;

type Format = "simple" | "table" | "json";

interface GlobalOptions {
  endpoints: string;
  token?: string;
  write: Format;
  timeout: number;
  consistency?: "linearizable" | "lease" | "stale";
}

function table(rows: readonly (readonly unknown[])[], header: readonly string[]): string {
  const cells = [header, ...rows].map((row) =>
    row.map((cell) => (cell === null || cell === undefined ? "" : String(cell))),
  );
  const widths = header.map((_, k) => Math.max(...cells.map((row) => row[k]!.length)));
  const line = `+${widths.map((w) => "-".repeat(w + 2)).join("+")}+`;
  const render = (row: string[]) =>
    `| ${row.map((cell, k) => cell.padEnd(widths[k]!)).join(" | ")} |`;
  return [line, render(cells[0]!), line, ...cells.slice(1).map(render), line].join("\n");
}

export function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

export async function run(
  command: Command,
  action: (client: StageraftClient, options: GlobalOptions) => Promise<number | undefined>,
): Promise<void> {
  const options = command.optsWithGlobals<GlobalOptions>();
  const client = connect(
    options.endpoints
      .split(",")
      .map((e) => e.trim())
      .filter(Boolean),
    {
      ...(options.token ? { token: options.token } : {}),
      requestTimeoutMs: options.timeout,
      maxAttempts: 6,
    },
  );
  try {
    process.exitCode = (await action(client, options)) ?? CliExit.ok;
  } catch (error) {
    if (!(error instanceof StageraftError)) throw error;
    if (options.write === "json")
      print(JSON.stringify({ ok: false, error: { code: error.code, message: error.message } }));
    else process.stderr.write(`Error: ${error.message}\n`);
    process.exitCode =
      error.code === "CONNECTION"
        ? CliExit.unreachable
        : error.code === "TIMEOUT"
          ? CliExit.unknown
          : CliExit.refused;
  } finally {
    client.close();
  }
}

export function integer(value: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed)) throw new InvalidArgumentError("must be an integer");
  return parsed;
}

export function registerClientCommands(program: Command): void {
  program
    .option(
      "--endpoints <list>",
      "client addresses of the cluster's nodes (host:port,…)",
      "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003",
    )
    .option(
      "--token <token>",
      "bearer token (auth.clientToken, or auth.adminToken for admin commands)",
    )
    .addOption(
      new Option("-w, --write <format>", "output format")
        .choices(["simple", "table", "json"])
        .default("simple"),
    )
    .addOption(
      new Option("--timeout <ms>", "per-request timeout").argParser(integer).default(5_000),
    );

  program
    .command("put")
    .description("write a value")
    .argument("<key>")
    .argument("<value>")
    .action(async (key: string, value: string, _options, command: Command) =>
      run(command, async (client, { write }) => {
        const result = await client.put(key, value);
        print(
          write === "json"
            ? JSON.stringify(result)
            : write === "table"
              ? table([[key, result.index]], ["key", "index"])
              : "OK",
        );
        return CliExit.ok;
      }),
    );

  program
    .command("get")
    .description("read a value (prints nothing when the key is absent)")
    .argument("<key>")
    .addOption(
      new Option("--consistency <level>", "linearizable, lease or stale").choices([
        "linearizable",
        "lease",
        "stale",
      ]),
    )
    .addOption(new Option("--rev <revision>", "read the key as it was then").argParser(integer))
    .action(async (key: string, options: { rev?: number }, command: Command) =>
      run(command, async (client, { write, consistency }) => {
        const result = await client.get(key, {
          ...(consistency ? { consistency } : {}),
          ...(options.rev !== undefined ? { revision: options.rev } : {}),
        });
        if (write === "json") print(JSON.stringify(result));
        else if (write === "table")
          print(table(result.found ? [[key, result.value]] : [], ["key", "value"]));
        else if (result.found) print(`${key}\n${result.value}`);
        return CliExit.ok;
      }),
    );

  program
    .command("del")
    .description("delete a key (prints how many keys were deleted)")
    .argument("<key>")
    .option("--prefix", "delete every key starting with <key>")
    .action(async (key: string, options: { prefix?: boolean }, command: Command) =>
      run(command, async (client, { write }) => {
        const result = options.prefix
          ? await client.deleteRange({ prefix: key })
          : await client.delete(key);
        const count = typeof result.deleted === "number" ? result.deleted : +result.deleted;
        print(write === "json" ? JSON.stringify(result) : String(count));
        return CliExit.ok;
      }),
    );

  program
    .command("cas")
    .description(
      "compare and swap: set <value> if the current value is <expect> (--absent: if there is none); exits 1 if not",
    )
    .argument("<key>")
    .argument("[expect]")
    .argument("[value]")
    .option("--absent", "expect the key to be absent (then give only <key> <value>)")
    .action(
      async (
        key: string,
        expectArg: string | undefined,
        valueArg: string | undefined,
        options: { absent?: boolean },
        command: Command,
      ) =>
        run(command, async (client, { write }) => {
          const expect = options.absent ? null : (expectArg ?? null);
          const value = options.absent ? expectArg : valueArg;
          if (value === undefined || (!options.absent && expectArg === undefined)) {
            process.stderr.write(
              "Error: usage: cas <key> <expect> <value>  |  cas --absent <key> <value>\n",
            );
            return CliExit.usage;
          }
          const result = await client.cas(key, expect, value);
          if (write === "json") print(JSON.stringify(result));
          else
            print(
              result.succeeded
                ? "OK"
                : `FAILED: current value is ${result.value === null ? "(absent)" : JSON.stringify(result.value)}`,
            );
          return result.succeeded ? CliExit.ok : CliExit.refused;
        }),
    );

  program
    .command("incr")
    .description("add an integer to a key's integer value (absent = 0); prints the new value")
    .argument("<key>")
    .argument("[delta]", "default 1", integer)
    .action(async (key: string, delta: number | undefined, _options, command: Command) =>
      run(command, async (client, { write }) => {
        const result = await client.incr(key, delta ?? 1);
        print(write === "json" ? JSON.stringify(result) : String(result.value));
        return CliExit.ok;
      }),
    );

  program
    .command("scan")
    .description("list keys in order: by --prefix, or in [--start, --end)")
    .option("--prefix <prefix>")
    .option("--start <key>")
    .option("--end <key>")
    .addOption(new Option("--limit <n>").argParser(integer))
    .addOption(new Option("--consistency <level>").choices(["linearizable", "lease", "stale"]))
    .addOption(new Option("--rev <revision>", "list the keys as they were then").argParser(integer))
    .option("--keys-only", "keys without their values")
    .option("--count-only", "only how many keys the range holds")
    .action(
      async (
        options: {
          prefix?: string;
          start?: string;
          end?: string;
          limit?: number;
          rev?: number;
          keysOnly?: boolean;
          countOnly?: boolean;
        },
        command: Command,
      ) =>
        run(command, async (client, { write, consistency }) => {
          const { rev, ...range } = options;
          const result = await client.scan({
            ...range,
            ...(rev !== undefined ? { revision: rev } : {}),
            ...(consistency ? { consistency } : {}),
          });
          if (options.countOnly && write !== "json") {
            print(String(result.count));
            return CliExit.ok;
          }
          if (write === "json") print(JSON.stringify(result));
          else if (write === "table")
            print(
              table(
                result.items.map((item) => [item.key, item.value]),
                ["key", "value"],
              ),
            );
          else
            for (const item of result.items)
              print(options.keysOnly ? item.key : `${item.key}\n${item.value}`);
          return CliExit.ok;
        }),
    );

  program
    .command("status")
    .description("the status of every endpoint")
    .action(async (_options, command: Command) =>
      run(command, async (_client, options) => {
        const rows: unknown[][] = [];
        const results: unknown[] = [];
        let reached = 0;
        for (const endpoint of options.endpoints
          .split(",")
          .map((e) => e.trim())
          .filter(Boolean)) {
          const one = connect([endpoint], {
            ...(options.token ? { token: options.token } : {}),
            requestTimeoutMs: options.timeout,
            maxAttempts: 1,
          });
          try {
            const status = await one.status();
            reached++;
            results.push({ endpoint, ...status });
            rows.push([
              endpoint,
              status.name,
              status.role,
              status.term,
              status.leader,
              status.commitIndex,
              status.appliedIndex,
            ]);
          } catch (error) {
            results.push({ endpoint, error: (error as Error).message });
            rows.push([endpoint, "", `unreachable: ${(error as Error).message}`, "", "", "", ""]);
          } finally {
            one.close();
          }
        }
        if (options.write === "json") print(JSON.stringify(results));
        else
          print(table(rows, ["endpoint", "name", "role", "term", "leader", "commit", "applied"]));
        return reached > 0 ? CliExit.ok : CliExit.unreachable;
      }),
    );

  const memberRows = (members: Awaited<ReturnType<StageraftClient["members"]>>) =>
    members.map((m) => [m.name, m.peer, m.client ?? "", m.voter ? "voter" : "learner"]);
  const printMembers = (
    members: Awaited<ReturnType<StageraftClient["members"]>>,
    write: Format,
  ) => {
    if (write === "json") print(JSON.stringify({ members }));
    else print(table(memberRows(members), ["name", "peer", "client", "role"]));
  };

  program
    .command("members")
    .description("list the cluster's members")
    .action(async (_options, command: Command) =>
      run(command, async (client, { write }) => {
        printMembers(await client.members(), write);
        return CliExit.ok;
      }),
    );

  const member = program.command("member").description("change the membership (admin token)");
  member
    .command("add")
    .description(
      "add a node: as a learner, promoted to voter once it has caught up (unless --learner)",
    )
    .argument("<name>")
    .requiredOption("--peer <host:port>", "its peer address")
    .requiredOption("--client <host:port>", "its client address")
    .option("--learner", "keep it a non-voting learner")
    .action(
      async (
        name: string,
        options: { peer: string; client: string; learner?: boolean },
        command: Command,
      ) =>
        run(command, async (client, { write }) => {
          printMembers(
            await client.memberAdd({
              name,
              peer: options.peer,
              client: options.client,
              voter: !options.learner,
            }),
            write,
          );
          return CliExit.ok;
        }),
    );
  member
    .command("remove")
    .description("remove a node (it may be the leader: it steps down once the change commits)")
    .argument("<name>")
    .action(async (name: string, _options, command: Command) =>
      run(command, async (client, { write }) => {
        printMembers(await client.memberRemove(name), write);
        return CliExit.ok;
      }),
    );
  member
    .command("promote")
    .description("make a learner (added with --learner) a voter; it must have caught up")
    .argument("<name>")
    .action(async (name: string, _options, command: Command) =>
      run(command, async (client, { write }) => {
        printMembers(await client.memberPromote(name), write);
        return CliExit.ok;
      }),
    );

  program
    .command("transfer-leader")
    .description("hand leadership to the named voter (admin token)")
    .argument("<name>")
    .action(async (name: string, _options, command: Command) =>
      run(command, async (client, { write }) => {
        const result = await client.transferLeader(name);
        print(write === "json" ? JSON.stringify(result) : `leader is now ${result.leader}`);
        return CliExit.ok;
      }),
    );

  program
    .command("snapshot")
    .description("snapshot the first endpoint's node now and compact its log (admin token)")
    .action(async (_options, command: Command) =>
      run(command, async (client, { write }) => {
        const result = await client.snapshot();
        print(write === "json" ? JSON.stringify(result) : `snapshot at index ${result.index}`);
        return CliExit.ok;
      }),
    );
}
