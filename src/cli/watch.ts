import { type Command, InvalidArgumentError } from "commander";
import { StageraftError } from "../client/errors.js";
import { type WatchEvent, WatchStream } from "../client/watch.js";
import { CliExit, endpointList, type GlobalOptions, reportFailure } from "./common.js";

/** `stageraft watch KEY [--prefix] [--rev R] [--prev-kv]`: one line per event until Ctrl-C. */

interface WatchFlags extends GlobalOptions {
  prefix?: boolean;
  rev?: number;
  prevKv?: boolean;
}

function revision(value: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 1)
    throw new InvalidArgumentError("must be an integer ≥ 1");
  return parsed;
}

/** simple: `PUT <revision> <key> <value>` / `DELETE <revision> <key>`; json: the event. */
export function formatEvent(event: WatchEvent, json: boolean): string {
  if (json) return JSON.stringify(event);
  const { kv, prevKv } = event;
  const head = `${event.type.toUpperCase()} ${kv.modRevision} ${kv.key}`;
  const body = event.type === "put" ? `${head} ${kv.value}` : head;
  return prevKv ? `${body} (prev: ${prevKv.value})` : body;
}

export function registerWatchCommand(program: Command): void {
  program
    .command("watch")
    .description("stream the changes of a key (or a prefix) until Ctrl-C, one line per event")
    .argument("<key>")
    .option("--prefix", "watch every key that starts with <key>")
    .option("--rev <revision>", "start at this revision (default: now)", revision)
    .option("--prev-kv", "show each key's value before the change")
    .action(async (key: string, _options, command: Command) => {
      const flags = command.optsWithGlobals<WatchFlags>();
      const stream = new WatchStream(
        endpointList(flags),
        {
          ...(flags.prefix ? { prefix: key } : { key }),
          ...(flags.rev !== undefined ? { startRevision: flags.rev } : {}),
          prevKv: flags.prevKv === true,
        },
        flags.token ? { token: flags.token } : {},
      );
      const stop = () => stream.close();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      try {
        for await (const event of stream)
          process.stdout.write(`${formatEvent(event, flags.write === "json")}\n`);
        process.exitCode = CliExit.ok;
      } catch (error) {
        if (!(error instanceof StageraftError)) throw error;
        process.exitCode = reportFailure(error, flags.write);
      } finally {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
      }
    });
}
