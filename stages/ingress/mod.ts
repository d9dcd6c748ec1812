// ingress: the client WebSocket (/v1), its admission control, and the token checks of both ports.
export type { IngressHttp, IngressOptions, IngressPorts } from "./ingress.js";
export { IngressStage } from "./ingress.js";
export type { ClientTokens } from "./tokens.js";
export { clientAccess, holdsToken, requestToken, tokenMatches } from "./tokens.js";
