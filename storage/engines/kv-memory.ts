import {
  compareKeys,
  type EngineStats,
  evaluate,
  inRange,
  type KvCommand,
  type KvEngine,
  type KvItem,
  type KvRange,
  type KvResult,
  type Sidecar,
} from "./engine.js";
import { readKvCheckpoint, writeKvCheckpoint } from "./kv-checkpoint.js";

/** KV state in a Map: fast, and rebuilt from the last snapshot plus the log after a restart. */
export class MemoryKvEngine implements KvEngine {
  readonly name = "memory";
  appliedIndex = 0;
  private values = new Map<string, string>();
  /** Keys in order, rebuilt lazily after writes: scans are rarer than writes. */
  private sortedKeys: string[] | null = null;
  private applied = 0;

  async open(): Promise<void> {}

  async applyBatch(
    commands: readonly { index: number; command: KvCommand }[],
    lastIndex: number,
    sidecar?: Sidecar,
  ): Promise<KvResult[]> {
    const results: KvResult[] = [];
    for (const { index, command } of commands) {
      const { result, next } = evaluate(command, this.values.get(command.key) ?? null);
      results.push(result);
      if (index <= this.appliedIndex || next === undefined) continue;
      if (next === null) this.values.delete(command.key);
      else this.values.set(command.key, next);
      this.sortedKeys = null;
      this.applied++;
    }
    if (lastIndex > this.appliedIndex && sidecar) {
      for (const { key, value } of sidecar(results)) {
        if (value === null) this.values.delete(key);
        else this.values.set(key, value);
        this.sortedKeys = null;
      }
    }
    this.appliedIndex = Math.max(this.appliedIndex, lastIndex);
    return results;
  }

  async get(key: string): Promise<string | null> {
    return this.values.get(key) ?? null;
  }

  async scan(range: KvRange): Promise<KvItem[]> {
    this.sortedKeys ??= [...this.values.keys()].sort(compareKeys);
    const out: KvItem[] = [];
    for (const key of this.sortedKeys) {
      if (out.length >= range.limit) break;
      if (range.end !== undefined && compareKeys(key, range.end) >= 0) break;
      if (inRange(key, range)) out.push({ key, value: this.values.get(key)! });
    }
    return out;
  }

  checkpoint(path: string, signal?: AbortSignal): Promise<number> {
    // A copy, taken now: the map changes while the file is written.
    const entries = [...this.values];
    return writeKvCheckpoint(
      path,
      (function* () {
        for (const [key, value] of entries) yield { key, value };
      })(),
      signal,
    );
  }

  async restore(path: string, index: number): Promise<void> {
    const values = new Map<string, string>();
    for await (const { key, value } of readKvCheckpoint(path)) values.set(key, value);
    this.values = values;
    this.sortedKeys = null;
    this.appliedIndex = index;
  }

  stats(): EngineStats {
    return {
      keys: this.values.size,
      appliedIndex: this.appliedIndex,
      commandsApplied: this.applied,
    };
  }

  async close(): Promise<void> {}
}
