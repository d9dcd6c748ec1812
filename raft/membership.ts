import { assert } from "./assert.js";
import type { ConfigEntryData, MembershipConfig } from "./types.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeConfigEntry(data: ConfigEntryData): Uint8Array {
  return encoder.encode(JSON.stringify(data));
}

export function decodeConfigEntry(bytes: Uint8Array): ConfigEntryData {
  const data = JSON.parse(decoder.decode(bytes)) as ConfigEntryData;
  assert(Array.isArray(data.config?.voters), "config entry: voters missing");
  return data;
}

/** The configuration history as the owner may read it. */
export type ReadonlyMembershipLog = Pick<
  MembershipLog,
  "current" | "currentIndex" | "currentContext" | "at" | "contextAt"
>;

/**
 * The configurations in the log, oldest first. A configuration takes effect as soon as its
 * entry is in the log (Raft thesis §4.1), so the one in force is the last one, committed or
 * not; truncating the log reverts to an earlier one.
 * Invariant: indices strictly increase; the first is the base (snapshot or boot config).
 */
export class MembershipLog {
  private history: { index: number; config: MembershipConfig; context: string }[];

  constructor(baseIndex: number, baseConfig: MembershipConfig, baseContext = "") {
    this.history = [{ index: baseIndex, config: baseConfig, context: baseContext }];
  }

  /** The application's context of the current configuration (e.g. member addresses). */
  currentContext(): string {
    return this.history.at(-1)!.context;
  }

  contextAt(index: number): string {
    for (let k = this.history.length - 1; k >= 0; k--) {
      const item = this.history[k]!;
      if (item.index <= index) return item.context;
    }
    return this.history[0]!.context;
  }

  current(): MembershipConfig {
    return this.history.at(-1)!.config;
  }

  /** Index of the entry that installed the current configuration. */
  currentIndex(): number {
    return this.history.at(-1)!.index;
  }

  /** The configuration in force at `index`. */
  at(index: number): MembershipConfig {
    for (let k = this.history.length - 1; k >= 0; k--) {
      const item = this.history[k]!;
      if (item.index <= index) return item.config;
    }
    return this.history[0]!.config;
  }

  append(index: number, config: MembershipConfig, context = ""): void {
    assert(index > this.currentIndex(), "membership: config entries must be appended in order");
    this.history.push({ index, config, context });
  }

  /** The log lost every entry from `index` on. */
  truncateFrom(index: number): void {
    while (this.history.length > 1 && this.history.at(-1)!.index >= index) this.history.pop();
  }

  /** Entries up to `index` are compacted: fold the older history into one base. */
  compactTo(index: number): void {
    const config = this.at(index);
    const context = this.contextAt(index);
    const newer = this.history.filter((item) => item.index > index);
    this.history = [{ index, config, context }, ...newer];
  }

  reset(index: number, config: MembershipConfig, context = ""): void {
    this.history = [{ index, config, context }];
  }
}
