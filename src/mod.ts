// The stageraft package: the typed client library. The Raft core and remu are at
// "stageraft/raft" and "stageraft/remu".

export type { ClientRequest, Consistency, ErrorCode } from "../stages/protocol.js";
export type { ClientOptions, MemberInfo, StatusResult, VectorHit } from "./client/client.js";
export { connect, StageraftClient, StageraftError } from "./client/client.js";
export { Lease, LeaseApi, type LeaseTimeToLive } from "./client/lease.js";
export { Election, type Lock, LostError, type RecipeOptions } from "./client/recipes.js";
export type {
  Compare,
  GetResult,
  KeyValue,
  PutOptions,
  ScanResult,
  TxnOp,
  TxnRequest,
  TxnResult,
} from "./client/revisions.js";
export { cmp, op } from "./client/revisions.js";
