// Linearizability checking of KV histories recorded from real runs.
export type {
  CasOutput,
  ClientId,
  DeleteOutput,
  GetOutput,
  IncrOutput,
  KvClientLike,
  KvInput,
  KvOperation,
  KvOutput,
  Operation,
  PendingCall,
  PutOutput,
  RecordedOutcome,
  RecorderOptions,
} from "./history.js";
export {
  HistoryRecorder,
  isPending,
  NOTHING_DONE_CODES,
  outcomeOfError,
  recordKv,
  runKv,
} from "./history.js";
export type { KvEffect, KvState } from "./kv-model.js";
export { applyKv, describeKv, kvModel, validateKvInput, validateKvOutput } from "./kv-model.js";
export type {
  ReadOutput,
  RevKvInput,
  RevKvOperation,
  RevKvOutput,
  RevKvState,
  TxnCompareInput,
  TxnSingleOp,
} from "./kv-txn-model.js";
export { revKvModel } from "./kv-txn-model.js";
export type {
  CheckOptions,
  CheckResult,
  CheckStats,
  Model,
  StepResult,
} from "./linearizability.js";
export { checkKvHistory, checkOperations } from "./linearizability.js";
