// raft-step: the Raft core reached in rounds (inline, or in a worker: raft-core-host.ts is the
// worker's entry, loaded by path), client requests, forwarding, admin ops, membership.
export type { MemberAddress, MemberView } from "./members.js";
export { MemberDirectory, promoteIntent } from "./members.js";
export type { RaftStepOptions, RaftStepPorts } from "./options.js";
export type { CoreView, FollowerView, RaftCore, RoundInput, RoundOutput } from "./raft-core.js";
export { InlineRaftCore } from "./raft-core.js";
export { RaftStepStage } from "./raft-step.js";
export { RaftCorePool } from "./remote-raft-core.js";
export type { RemovedNotice } from "./removal.js";
export type { Readiness } from "./status.js";
export { readiness, readyApplyLag } from "./status.js";
