import type { Message } from "../../raft/mod.js";
import type { Recorder } from "./recorder.js";
import type { SimNode } from "./sim-node.js";

/** What the cluster's event queue holds (cluster.ts). */
export type SimEvent =
  | { readonly kind: "tick"; readonly node: SimNode; readonly incarnation: number }
  | { readonly kind: "deliver"; readonly message: Message }
  | { readonly kind: "persist"; readonly node: SimNode; readonly incarnation: number }
  | { readonly kind: "call"; readonly label: string; readonly fn: () => void };

/** Request messages, as counted by the lab's RPC bounds (responses ride on their RPC). */
export const requestTypes = new Set([
  "vote",
  "append",
  "heartbeat",
  "snapshot",
  "timeoutNow",
  "readIndex",
]);

/** Open the recorder's step for `event`, labelled as the web view shows it. */
export function beginStep(recorder: Recorder, event: SimEvent): void {
  switch (event.kind) {
    case "tick": {
      const stale = event.node.incarnation !== event.incarnation || !event.node.up;
      recorder.begin("tick", `${event.node.id} tick${stale ? " (down)" : ""}`, event.node.id);
      break;
    }
    case "deliver": {
      const m = event.message;
      recorder.begin("deliver", `deliver ${m.type} ${m.from}→${m.to}`, m.to);
      break;
    }
    case "persist": {
      const stale = event.node.incarnation !== event.incarnation || !event.node.up;
      recorder.begin(
        "persist",
        `${event.node.id} disk write done${stale ? " (down)" : ""}`,
        event.node.id,
      );
      break;
    }
    case "call":
      recorder.begin("call", event.label, null);
      break;
  }
}
