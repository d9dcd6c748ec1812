import { type Command, Option } from "commander";
import { CliExit, type Format, integer, print, run, table, usageError } from "./common.js";

const consistencyOption = () =>
  new Option("--consistency <level>", "linearizable (default), lease or stale").choices([
    "linearizable",
    "lease",
    "stale",
  ]);

type Consistency = "linearizable" | "lease" | "stale";

/** etcdctl's habit: a value left out of the command line is read from stdin, verbatim. */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export function registerKvCommands(program: Command): void {
  registerPut(program);
  registerGet(program);
  registerWrites(program);
  registerScan(program);
}

function registerPut(program: Command): void {
  program
    .command("put")
    .description("write a value; without <value> it is read from stdin (verbatim, to EOF)")
    .argument("<key>")
    .argument("[value]")
    .option("--lease <id>", "attach the key to this lease (deleted when the lease ends)")
    .action(
      async (
        key: string,
        valueArg: string | undefined,
        options: { lease?: string },
        command: Command,
      ) =>
        run(command, async (client, { write }) => {
          if (valueArg === undefined && process.stdin.isTTY)
            return usageError("give <value>, or pipe it on stdin: echo -n v | stageraft put k");
          const value = valueArg ?? (await readStdin());
          const result = await client.put(
            key,
            value,
            options.lease ? { lease: options.lease } : {},
          );
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
}

interface GetOptions {
  prefix?: boolean;
  printValueOnly?: boolean;
  keysOnly?: boolean;
  limit?: number;
  consistency?: Consistency;
  /** Read as of this revision (CONTRACT §5). */
  rev?: number;
}

const revisionOption = (what: string) => new Option("--rev <revision>", what).argParser(integer);

/** get's output, as etcdctl prints it: key and value lines, or only one of them. */
function printItems(
  items: readonly { key: string; value: string | null }[],
  options: GetOptions,
  write: Format,
): void {
  if (write === "table") {
    const rows = items.map((item) =>
      options.keysOnly
        ? [item.key]
        : options.printValueOnly
          ? [item.value]
          : [item.key, item.value],
    );
    const header = options.keysOnly
      ? ["key"]
      : options.printValueOnly
        ? ["value"]
        : ["key", "value"];
    print(table(rows, header));
    return;
  }
  for (const item of items) {
    if (!options.printValueOnly) print(item.key);
    if (!options.keysOnly) print(item.value ?? "");
  }
}

function registerGet(program: Command): void {
  program
    .command("get")
    .description("read a key, or with --prefix every key under it (prints nothing when absent)")
    .argument("<key>")
    .option("--prefix", "every key that starts with <key>, in key order")
    .option("--print-value-only", "print only the values")
    .option("--keys-only", "print only the keys")
    .addOption(new Option("--limit <n>", "at most n keys (with --prefix)").argParser(integer))
    .addOption(consistencyOption())
    .addOption(revisionOption("read as of that revision"))
    .action(async (key: string, options: GetOptions, command: Command) =>
      run(command, async (client, { write }) => {
        if (options.printValueOnly && options.keysOnly)
          return usageError("--print-value-only and --keys-only exclude each other");
        const consistency = {
          ...(options.consistency ? { consistency: options.consistency } : {}),
          ...(options.rev !== undefined ? { revision: options.rev } : {}),
        };
        if (options.prefix) {
          const limit = options.limit === undefined ? {} : { limit: options.limit };
          const result = await client.scan({ prefix: key, ...limit, ...consistency });
          if (write === "json") print(JSON.stringify(result));
          else printItems(result.items, options, write);
          return CliExit.ok;
        }
        const result = await client.get(key, consistency);
        if (write === "json") print(JSON.stringify(result));
        else if (result.found || write === "table")
          printItems(result.found ? [{ key, value: result.value }] : [], options, write);
        return CliExit.ok;
      }),
    );
}

function registerWrites(program: Command): void {
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
          if (value === undefined || (!options.absent && expectArg === undefined))
            return usageError("usage: cas <key> <expect> <value>  |  cas --absent <key> <value>");
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
}

function registerScan(program: Command): void {
  program
    .command("scan")
    .description("list keys in order: by --prefix, or in [--start, --end)")
    .option("--prefix <prefix>")
    .option("--start <key>")
    .option("--end <key>")
    .addOption(new Option("--limit <n>").argParser(integer))
    .addOption(consistencyOption())
    .addOption(revisionOption("list the keys as they were then"))
    .option("--keys-only", "keys without their values")
    .option("--count-only", "only how many keys the range holds")
    .action(
      async (
        options: {
          prefix?: string;
          start?: string;
          end?: string;
          limit?: number;
          consistency?: Consistency;
          rev?: number;
          keysOnly?: boolean;
          countOnly?: boolean;
        },
        command: Command,
      ) =>
        run(command, async (client, { write }) => {
          const { rev, keysOnly, countOnly, ...range } = options;
          const result = await client.scan({
            ...range,
            ...(rev !== undefined ? { revision: rev } : {}),
            ...(keysOnly ? { keysOnly } : {}),
            ...(countOnly ? { countOnly } : {}),
          });
          if (countOnly && write !== "json") print(String(result.count));
          else if (write === "json") print(JSON.stringify(result));
          else printItems(result.items, keysOnly ? { keysOnly } : {}, write);
          return CliExit.ok;
        }),
    );
}
