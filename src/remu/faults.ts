/** The fault kinds a remu run may inject (--faults); a file of its own so the CLI parses its flags without loading the emulator. */
export const faultKinds = [
  "drop",
  "duplicate",
  "reorder",
  "partition",
  "crash",
  "snapshot",
  "transfer",
  "lease",
  "membership",
] as const;
export type FaultKind = (typeof faultKinds)[number];
