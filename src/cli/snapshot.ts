import type { Command } from "commander";
import { CliExit, endpointList, print, run, withoutGlobalHelp } from "./common.js";
import { downloadSnapshot } from "./snapshot-download.js";

export function registerSnapshotCommands(program: Command): void {
  const snapshot = program
    .command("snapshot")
    .description(
      "with no subcommand: every member of the cluster snapshots its state at one log index (the request goes through the log) and compacts its log; prints that index (admin token)",
    )
    .action(async (_options, command: Command) =>
      run(command, async (client, { write }) => {
        const result = await client.snapshot();
        print(write === "json" ? JSON.stringify(result) : `snapshot at index ${result.index}`);
        return CliExit.ok;
      }),
    );

  snapshot
    .command("save")
    .description(
      "take a snapshot (as `snapshot`) and download it into FILE, checked end to end: a consistent state of the cluster at one log index (admin token)",
    )
    .argument("<file>")
    .action(async (file: string, _options, command: Command) =>
      run(command, async (client, options) => {
        const { index } = await client.snapshot();
        const saved = await downloadSnapshot(endpointList(options), index, file, options);
        if (options.write === "json") print(JSON.stringify({ file, ...saved }));
        else
          print(
            `Snapshot saved at ${file} (index ${saved.index}, ${saved.bytes} bytes, from ${saved.endpoint})`,
          );
        return CliExit.ok;
      }),
    );

  withoutGlobalHelp(snapshot.command("restore"))
    .description(
      "make DIR the data dir of one member of a NEW cluster holding the saved snapshot's state; run it for every member with the same --initial-cluster, then start each with serve (docs/operations.md)",
    )
    .argument("<file>", "a file written by snapshot save")
    .requiredOption("--name <name>", "this member's name, as listed in --initial-cluster")
    .requiredOption("--data-dir <dir>", "the new member's data dir (must be empty or absent)")
    .requiredOption("--initial-cluster <list>", "name=host:port,… the new cluster's peer addresses")
    .action(
      async (file: string, options: { name: string; dataDir: string; initialCluster: string }) => {
        // Loaded here: the storage and raft-step modules cost the other commands nothing.
        const { SnapshotFileError } = await import("../snapshot-file.js");
        const { restoreSnapshot } = await import("../snapshot-restore.js");
        try {
          const meta = await restoreSnapshot(file, options);
          print(
            `restored the snapshot at index ${meta.index} into ${options.dataDir} (member ${options.name} of ${meta.config.voters.join(",")})`,
          );
        } catch (error) {
          if (!(error instanceof SnapshotFileError)) throw error;
          process.stderr.write(`Error: ${error.message}\n`);
          process.exitCode = CliExit.refused;
        }
      },
    );
}
