export type { ClusterOptions } from "./cluster.js";
export { Cluster } from "./cluster.js";
export type { CheckedNode } from "./invariants.js";
export { InvariantChecker, InvariantKind, InvariantViolation } from "./invariants.js";
export type { NetworkFaults } from "./network.js";
export { VirtualNetwork } from "./network.js";
export type { NodeFaultKind, NodeRunOptions } from "./node/run.js";
export { nodeFaultKinds, runNodeEmulation } from "./node/run.js";
export type {
  NodeSnapshot,
  RecordedMessage,
  RecordedStep,
  RecorderOptions,
  Recording,
  RecordingStep,
} from "./recorder.js";
export { exportRecording, Recorder, snapshotNode } from "./recorder.js";
export type { FaultKind, RunOptions, RunResult } from "./run.js";
export { ExitCode, faultKinds, runEmulation } from "./run.js";
