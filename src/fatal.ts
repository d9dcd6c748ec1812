import type { Logger } from "pino";
import type { RaftStatus } from "../raft/node.js";
import type { Fatal } from "../stages/items.js";

/** The exit code of a storage failure or a broken invariant (EX_SOFTWARE). */
export const fatalExitCode = 70;

/**
 * The node's one fatal path, handed to the stages as their `fatal` port: the only place a
 * stage's failure ends the process. Logs the error with the node (the logger's base), group,
 * term and index, then exits 70. `status` is the core's view when the failure struck (null
 * before raft-step exists; it is not trusted to answer).
 */
export function fatalExit(log: Logger, status: () => RaftStatus | null): Fatal {
  return (error, context) => {
    let where: { group: number | null; term: number | null; index: number | null } = {
      group: null,
      term: null,
      index: context.index ?? null,
    };
    try {
      const now = status();
      if (now !== null)
        where = { group: now.group, term: now.term, index: context.index ?? now.appliedIndex };
    } catch {
      // A dead core worker may not answer: log what is known.
    }
    log.fatal({ err: error, stage: context.stage, ...where }, context.message);
    process.exit(fatalExitCode);
  };
}
