import type { Command } from "commander";
import type { MemberInfo } from "../client/client.js";
import { CliExit, type Format, print, run, table } from "./common.js";

function printMembers(members: readonly MemberInfo[], write: Format): void {
  if (write === "json") print(JSON.stringify({ members }));
  else
    print(
      table(
        members.map((m) => [m.name, m.peer, m.client ?? "", m.voter ? "voter" : "learner"]),
        ["name", "peer", "client", "role"],
      ),
    );
}

/** members, member add|remove|promote, transfer-leader (the changes need the admin token). */
export function registerMemberCommands(program: Command): void {
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
    .option("--client <host:port>", "its client address (default: learned when it starts)")
    .option("--learner", "keep it a non-voting learner (until member promote)")
    .action(
      async (
        name: string,
        options: { peer: string; client?: string; learner?: boolean },
        command: Command,
      ) =>
        run(command, async (client, { write }) => {
          const { peer, client: address } = options;
          const voter = !options.learner;
          const member = {
            name,
            peer,
            ...(address === undefined ? {} : { client: address }),
            voter,
          };
          printMembers(await client.memberAdd(member), write);
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
    .description(
      "make a learner (added with --learner) a voter: the member-promote op; it must have caught up",
    )
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
}
