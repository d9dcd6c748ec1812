import { ClassicLevel } from "classic-level";
import {
  compareKeys,
  type EngineStats,
  evaluate,
  type KvCommand,
  type KvEngine,
  type KvItem,
  type KvRange,
  type KvResult,
  type Sidecar,
} from "./engine.js";
import { readKvCheckpoint, writeKvCheckpoint } from "./kv-checkpoint.js";

const DATA_PREFIX = "d:";
const APPLIED_KEY = "m:applied";

/**
 * KV state in LevelDB. The applied index is written in the same batch as the data, so after
 * a crash the engine knows exactly which log entries to replay. Writes are not synced: the
 * WAL is the durable record, and a checkpoint file is synced before the log is compacted.
 */
export class LevelKvEngine implements KvEngine {
  readonly name = "level";
  appliedIndex = 0;
  private readonly db: ClassicLevel<string, string>;
  private applied = 0;

  constructor(readonly dir: string) {
    this.db = new ClassicLevel<string, string>(dir, { keyEncoding: "utf8", valueEncoding: "utf8" });
  }

  async open(): Promise<void> {
    await this.db.open();
    this.appliedIndex = Number((await this.db.get(APPLIED_KEY)) ?? 0);
  }

  async applyBatch(
    commands: readonly { index: number; command: KvCommand }[],
    lastIndex: number,
    sidecar?: Sidecar,
  ): Promise<KvResult[]> {
    const overlay = new Map<string, string | null>();
    const ops: { type: "put" | "del"; key: string; value?: string }[] = [];
    const results: KvResult[] = [];
    // One getMany for every key whose current value matters (a put does not read it).
    const keys = [
      ...new Set(
        commands.filter(({ command }) => command.op !== "put").map(({ command }) => command.key),
      ),
    ];
    if (keys.length > 0) {
      const values = await this.db.getMany(keys.map((key) => DATA_PREFIX + key));
      keys.forEach((key, k) => {
        overlay.set(key, values[k] ?? null);
      });
    }
    for (const { index, command } of commands) {
      const current = overlay.get(command.key) ?? null;
      const { result, next } = evaluate(command, current);
      results.push(result);
      if (index <= this.appliedIndex || next === undefined) continue;
      overlay.set(command.key, next);
      ops.push(
        next === null
          ? { type: "del", key: DATA_PREFIX + command.key }
          : { type: "put", key: DATA_PREFIX + command.key, value: next },
      );
      this.applied++;
    }
    if (lastIndex > this.appliedIndex) {
      for (const { key, value } of sidecar?.(results) ?? []) {
        ops.push(
          value === null
            ? { type: "del", key: DATA_PREFIX + key }
            : { type: "put", key: DATA_PREFIX + key, value },
        );
      }
      ops.push({ type: "put", key: APPLIED_KEY, value: String(lastIndex) });
      await this.db.batch(ops as never);
      this.appliedIndex = lastIndex;
    }
    return results;
  }

  async get(key: string): Promise<string | null> {
    return (await this.db.get(DATA_PREFIX + key)) ?? null;
  }

  async scan(range: KvRange): Promise<KvItem[]> {
    const prefix = range.prefix ?? "";
    const lower =
      range.start !== undefined && compareKeys(range.start, prefix) > 0 ? range.start : prefix;
    const out: KvItem[] = [];
    // The end bound is range.end; a prefix ends the scan at the first key without it (no
    // "prefix + 1" arithmetic, which UTF-16 surrogates and U+FFFF make wrong).
    const iterator = this.db.iterator({
      gte: DATA_PREFIX + lower,
      lt: range.end === undefined ? prefixEnd(DATA_PREFIX) : DATA_PREFIX + range.end,
    });
    for await (const [dataKey, value] of iterator) {
      const key = dataKey.slice(DATA_PREFIX.length);
      if (!key.startsWith(prefix)) break;
      out.push({ key, value });
      if (out.length >= range.limit) break;
    }
    return out;
  }

  /** A consistent copy: a LevelDB iterator reads from an implicit snapshot taken when created. */
  checkpoint(path: string, signal?: AbortSignal): Promise<number> {
    const iterator = this.db.iterator({ gte: DATA_PREFIX, lt: prefixEnd(DATA_PREFIX) });
    return writeKvCheckpoint(
      path,
      (async function* () {
        for await (const [key, value] of iterator)
          yield { key: key.slice(DATA_PREFIX.length), value };
      })(),
      signal,
    );
  }

  async restore(path: string, index: number): Promise<void> {
    // Read (and so verify) the whole checkpoint before touching the current state.
    const items: KvItem[] = [];
    for await (const item of readKvCheckpoint(path)) items.push(item);
    await this.db.clear();
    for (let k = 0; k < items.length; k += 10_000) {
      const ops = items
        .slice(k, k + 10_000)
        .map(({ key, value }) => ({ type: "put" as const, key: DATA_PREFIX + key, value }));
      await this.db.batch(ops);
    }
    await this.db.batch([{ type: "put", key: APPLIED_KEY, value: String(index) }], { sync: true });
    this.appliedIndex = index;
  }

  stats(): EngineStats {
    return { appliedIndex: this.appliedIndex, commandsApplied: this.applied };
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

/** The smallest string greater than every string starting with `prefix`. */
function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}
