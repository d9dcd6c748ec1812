// apply: committed entries applied in order to the state machine (engines, sessions), reads
// served at their index, snapshots. state-machine-host.ts is the worker's entry, loaded by path.
export type { ApplyOptions, ApplyPorts } from "./apply.js";
export { ApplyStage } from "./apply.js";
export type { LogCommand, VectorDefaults } from "./commands.js";
export { RemoteStateMachine } from "./remote-state-machine.js";
export type { SessionSettings } from "./sessions.js";
export type { StateMachineOptions, StateMachinePort } from "./state-machine.js";
export { logHasVectors, openStateMachine, StateMachine } from "./state-machine.js";
export { defaultWatchHubOptions, WatchHub, type WatchScheduler } from "./watch-hub.js";
