import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import type { TxnRequest } from "../client/revisions.js";
import { CliExit, integer, print, run } from "./common.js";

async function readAll(path: string | undefined): Promise<string> {
  if (path !== undefined && path !== "-") return readFile(path, "utf8");
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** The CLI's revision commands (CONTRACT §5): compact and txn. */
export function registerRevisionCommands(program: Command): void {
  program
    .command("compact")
    .description("forget the history below <revision> (admin token); reads below it get COMPACTED")
    .argument("<revision>", "the oldest revision to keep", integer)
    .action(async (revision: number, _options, command: Command) =>
      run(command, async (client, { write }) => {
        const result = await client.compact(revision);
        print(write === "json" ? JSON.stringify(result) : `compacted at ${result.revision}`);
        return CliExit.ok;
      }),
    );

  program
    .command("txn")
    .description(
      'a transaction from a JSON file (or stdin): {"compare": [...], "success": [...], "failure": [...]}; exits 1 when the compares fail',
    )
    .argument("[file]", "the JSON request; - or absent: stdin")
    .action(async (file: string | undefined, _options, command: Command) =>
      run(command, async (client, { write }) => {
        let request: TxnRequest;
        try {
          request = JSON.parse(await readAll(file)) as TxnRequest;
        } catch (error) {
          process.stderr.write(`Error: the txn is not valid JSON: ${(error as Error).message}\n`);
          return CliExit.usage;
        }
        if (typeof request !== "object" || request === null || Array.isArray(request)) {
          process.stderr.write("Error: the txn must be a JSON object\n");
          return CliExit.usage;
        }
        const result = await client.txn(request);
        if (write === "json") print(JSON.stringify(result));
        else {
          print(result.succeeded ? "SUCCESS" : "FAILURE");
          for (const one of result.results) print(JSON.stringify(one));
        }
        return result.succeeded ? CliExit.ok : CliExit.refused;
      }),
    );
}
