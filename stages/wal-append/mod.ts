// wal-append: group commit of Readys to the WAL (one synced batch per drained batch).
export type { WalAppendOptions, WalAppendPorts } from "./wal-append.js";
export { WalAppendStage } from "./wal-append.js";
