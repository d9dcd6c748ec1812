// replicate: the peer transport: outbound links (replicate.ts), the inbound peer port
// (peer-gateway.ts) and the frames both speak (peer-frames.ts).
export type { Hello } from "./peer-frames.js";
export type { PeerGatewayOptions, PeerGatewayPorts } from "./peer-gateway.js";
export { PeerGateway } from "./peer-gateway.js";
export type { ReplicateOptions } from "./replicate.js";
export { ReplicateStage, splitAddress } from "./replicate.js";
export type { PeerLinkStatus, Transport } from "./transport.js";
