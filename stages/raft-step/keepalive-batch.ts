import type { ProposeResult } from "../../raft/types.js";
import { encodeCommand } from "../apply/commands.js";
import { KEEPALIVE_BATCH_MAX } from "../apply/lease-commands.js";
import type { ClientItem } from "../items.js";
import type { RoundBuilder } from "./rounds.js";

/** One keepalives entry being gathered: its clients, and the distinct ids they keep alive. */
interface Batch {
  readonly round: RoundBuilder;
  readonly items: ClientItem[];
  readonly ids: Set<string>;
  /** Set when the round takes the entry: nobody joins it after. */
  data: Uint8Array | null;
}

/**
 * The leader's keep-alive batching. A keep-alive is a log entry (its renewal time must reach
 * every replica: docs/leases.md); the keep-alives that arrive while a round is gathered share
 * one `keepalives` entry, up to KEEPALIVE_BATCH_MAX ids, so that N clients cost one WAL
 * write and one replicated entry instead of N. The entry is stamped and encoded when the
 * round takes it (at its start), after every member arrived: no client is promised a renewal
 * earlier than it asked. Each client gets its own waiter at the entry's index (apply answers
 * it with its own lease's part of the entry's answer).
 */
export class KeepAliveBatcher {
  private open: Batch | null = null;
  /** Waiters of the round `counted` beyond one per proposal (the apply stage takes them all). */
  private counted: RoundBuilder | null = null;
  private extra = 0;

  constructor(
    private readonly now: () => number,
    /** The core answered the entry: each client's waiter (or refusal) follows from it. */
    private readonly proposed: (item: ClientItem, result: ProposeResult) => void,
    private readonly maxIds = KEEPALIVE_BATCH_MAX,
  ) {}

  /** Waiters `round` holds beyond one per proposal. */
  extraWaiters(round: RoundBuilder): number {
    return this.counted === round ? this.extra : 0;
  }

  /** Gather the keep-alive of lease `id` into `round`'s open batch, or a new one. */
  add(round: RoundBuilder, item: ClientItem, id: string): void {
    let batch = this.open;
    const full = batch !== null && !batch.ids.has(id) && batch.ids.size >= this.maxIds;
    if (batch === null || batch.round !== round || batch.data !== null || full) {
      batch = this.start(round);
    } else {
      if (this.counted !== round) {
        this.counted = round;
        this.extra = 0;
      }
      this.extra++;
    }
    batch.items.push(item);
    batch.ids.add(id);
  }

  private start(round: RoundBuilder): Batch {
    const batch: Batch = { round, items: [], ids: new Set(), data: null };
    this.open = batch;
    const now = this.now;
    round.proposals.push({
      // Read by the round when it starts (RoundBuilder.input): the batch closes there (read
      // earlier, it would only close earlier: later keep-alives start another entry).
      get data(): Uint8Array {
        batch.data ??= encodeCommand({
          lease: { op: "keepalives", ids: [...batch.ids] },
          ts: now(),
        });
        return batch.data;
      },
      item: null,
      proposed: (result) => {
        for (const item of batch.items) this.proposed(item, result);
      },
    });
    return batch;
  }
}
