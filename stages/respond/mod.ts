// respond: replies encoded and written, corked per connection; the connection table and its
// per-connection limits.
export type { ClientConnection } from "./connections.js";
export { ConnectionTable, owedReplyBytes } from "./connections.js";
export type { RespondOptions } from "./respond.js";
export { RespondStage } from "./respond.js";
