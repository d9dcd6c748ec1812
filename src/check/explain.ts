/** The readable account of a history found not linearizable. */

import { buildEvents, type Item } from "./events.js";
import type { ClientId } from "./history.js";
import type { Model } from "./model.js";
import type { DeadEnd } from "./search.js";

/** How many operations of a prefix the explanation lists. */
const EXPLAIN_PREFIX = 20;
const EXPLAIN_CANDIDATES = 20;

function describeItem<S, I, O>(model: Model<S, I, O>, item: Item<I, O>): string {
  const { op } = item;
  const what = model.describeOperation
    ? model.describeOperation(op.input, item.returned ? op.output : undefined)
    : `${JSON.stringify(op.input)} → ${item.returned ? JSON.stringify(op.output) : "?"}`;
  const when = item.returned
    ? `call ${op.call}, return ${op.return}`
    : `call ${op.call}, never returned`;
  return `#${item.index} client ${clientName(op.clientId)}: ${what}  (${when})`;
}

function clientName(clientId: ClientId): string {
  return typeof clientId === "string" ? JSON.stringify(clientId) : String(clientId);
}

function describeState<S, I, O>(model: Model<S, I, O>, state: S): string {
  return model.describeState ? model.describeState(state) : model.stateKey(state);
}

export function explain<S, I, O>(
  model: Model<S, I, O>,
  key: string,
  items: readonly Item<I, O>[],
  deadEnd: DeadEnd<S>,
): string {
  const { calls } = buildEvents(items);
  const lines: string[] = [];
  const returned = items.filter((item) => item.returned).length;
  lines.push(
    `not linearizable: key ${JSON.stringify(key)} (${items.length} operations on it, ` +
      `${items.length - returned} never returned).`,
  );
  const order = deadEnd.order;
  if (order.length === 0) {
    lines.push("No operation can go first: the longest linearizable prefix found is empty.");
  } else {
    lines.push(`Longest linearizable prefix found: ${order.length} operation(s):`);
    const from = Math.max(0, order.length - EXPLAIN_PREFIX);
    if (from > 0) lines.push(`  ... ${from} earlier operation(s)`);
    for (let k = from; k < order.length; k++) {
      lines.push(`  ${k + 1}. ${describeItem(model, items[order[k]!]!)}`);
    }
  }
  lines.push(`State after it: ${describeState(model, deadEnd.state)}.`);
  const blocked = items[deadEnd.blocked]!;
  lines.push(
    `Cannot place ${describeItem(model, blocked)}: it must take effect before its return ` +
      `at ${blocked.op.return}, but neither it nor any other operation that could go next ` +
      "leads to a complete linearization (and no other order gets further).",
  );
  // The candidates at that dead end: not linearized, called before the blocked op returned.
  const inPrefix = new Set(order);
  const returnAt = calls[deadEnd.blocked]!.match!.position;
  const candidates = calls.filter((call) => !inPrefix.has(call.id) && call.position < returnAt);
  lines.push(`Operations that could take effect next there (${candidates.length}):`);
  for (const call of candidates.slice(0, EXPLAIN_CANDIDATES)) {
    const item = items[call.id]!;
    const result = model.step(
      deadEnd.state,
      item.op.input,
      item.returned ? item.op.output : undefined,
    );
    const verdict = result.ok
      ? `possible (→ ${describeState(model, result.state)}), but nothing linearizable follows`
      : "impossible in that state";
    lines.push(`  - ${describeItem(model, item)}: ${verdict}`);
  }
  if (candidates.length > EXPLAIN_CANDIDATES) {
    lines.push(`  ... and ${candidates.length - EXPLAIN_CANDIDATES} more`);
  }
  return lines.join("\n");
}
