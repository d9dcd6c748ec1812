/** Commands that change KV state; they travel through the Raft log. */
export type KvCommand =
  | {
      readonly op: "put";
      readonly key: string;
      readonly value: string;
      /** The key's lease (checked and recorded by the apply stage's lease table). */
      readonly lease?: string | null;
    }
  | { readonly op: "delete"; readonly key: string }
  | {
      readonly op: "cas";
      readonly key: string;
      readonly expect: string | null;
      readonly value: string;
    }
  | { readonly op: "incr"; readonly key: string; readonly delta: number };

export type KvResult =
  | { readonly op: "put" }
  | { readonly op: "delete"; readonly deleted: boolean }
  | { readonly op: "cas"; readonly succeeded: boolean; readonly value: string | null }
  | { readonly op: "incr"; readonly value: number }
  | { readonly op: "incr"; readonly error: "not-integer"; readonly value: string };

export type Sidecar = (
  results: readonly KvResult[],
) => readonly { readonly key: string; readonly value: string | null }[];

export interface KvRange {
  readonly prefix?: string;
  readonly start?: string;
  readonly end?: string;
  readonly limit: number;
}

export interface KvItem {
  readonly key: string;
  readonly value: string;
}

export interface EngineStats {
  readonly [name: string]: number;
}

/**
 * A KV engine behind the apply stage. Small on purpose (hashicorp's FSM has three methods):
 * apply a batch of commands, answer reads, checkpoint to a file and restore from one.
 * Commands at or below appliedIndex are skipped, so replaying the log after a restart is safe.
 */
export interface KvEngine {
  readonly name: string;
  /** Index of the last command applied; durable engines store it with the data. */
  readonly appliedIndex: number;
  /** Set by open() when the engine found itself damaged and emptied: why (it is rebuilt). */
  readonly rebuild?: string | null;
  open(): Promise<void>;
  /**
   * Apply `commands` (log order) and record `lastIndex` as applied. `sidecar`, given the
   * results, names raw writes (value null = delete) that must land atomically with them —
   * the apply stage keeps its session table so. A replayed batch (lastIndex <= appliedIndex)
   * changes nothing.
   */
  applyBatch(
    commands: readonly { readonly index: number; readonly command: KvCommand }[],
    lastIndex: number,
    sidecar?: Sidecar,
  ): Promise<KvResult[]>;
  get(key: string): Promise<string | null>;
  scan(range: KvRange): Promise<KvItem[]>;
  /**
   * Write the whole state to `path`; returns its size in bytes. The state is the one at the
   * call: it is pinned before checkpoint() returns its promise, and commands applied while
   * the file is written do not reach it (the apply stage goes on applying meanwhile).
   * `signal` abandons the writing: the promise rejects soon after, the file is incomplete.
   */
  checkpoint(path: string, signal?: AbortSignal): Promise<number>;
  /** Replace the whole state by the checkpoint at `path`, taken at `index`. */
  restore(path: string, index: number): Promise<void>;
  stats(): EngineStats;
  close(): Promise<void>;
}

const INTEGER = /^-?\d+$/;

/** The semantics shared by every KV engine: one command against the current value. */
export function evaluate(
  command: KvCommand,
  current: string | null,
): { result: KvResult; next: string | null | undefined } {
  switch (command.op) {
    case "put":
      return { result: { op: "put" }, next: command.value };
    case "delete":
      return {
        result: { op: "delete", deleted: current !== null },
        next: current === null ? undefined : null,
      };
    case "cas": {
      const succeeded = current === command.expect;
      return succeeded
        ? { result: { op: "cas", succeeded, value: command.value }, next: command.value }
        : { result: { op: "cas", succeeded, value: current }, next: undefined };
    }
    case "incr": {
      const base = current ?? "0";
      if (!INTEGER.test(base))
        return { result: { op: "incr", error: "not-integer", value: base }, next: undefined };
      const value = Number(BigInt(base) + BigInt(command.delta));
      if (!Number.isSafeInteger(value))
        return { result: { op: "incr", error: "not-integer", value: base }, next: undefined };
      return { result: { op: "incr", value }, next: String(value) };
    }
  }
}

export function inRange(key: string, range: KvRange): boolean {
  if (range.prefix !== undefined && !key.startsWith(range.prefix)) return false;
  if (range.start !== undefined && compareKeys(key, range.start) < 0) return false;
  if (range.end !== undefined && compareKeys(key, range.end) >= 0) return false;
  return true;
}

/**
 * Key order is UTF-8 byte order, as LevelDB (and etcd) sort. UTF-16 code-unit order agrees
 * except that surrogate pairs (code points above U+FFFF) must sort after every BMP code unit.
 */
export function compareKeys(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let k = 0; k < length; k++) {
    const x = a.charCodeAt(k);
    const y = b.charCodeAt(k);
    if (x === y) continue;
    const xSurrogate = x >= 0xd800 && x <= 0xdfff;
    const ySurrogate = y >= 0xd800 && y <= 0xdfff;
    if (xSurrogate !== ySurrogate) return xSurrogate ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}
