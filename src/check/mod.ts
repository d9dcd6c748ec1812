export * from "./history.js";
export * from "./kv-model.js";
export * from "./linearizability.js";
