/**
 * The sequential specification of the KV store with txn and reads at a revision (CONTRACT
 * §5). A txn touches several keys, so this model is not partitioned: the whole history is one
 * register of the key map (keep histories checked with it small).
 *
 * Revisions are what the server answers, nothing else: a revision is the log index of the
 * write's entry, so the model cannot compute one; it learns them. Every entry that writes
 * takes a place in a chain in linearization order (revision-bounds.ts) with bounds on its
 * revision: an answered write's revision is known; a write whose answer was lost (timeout)
 * lies between its neighbours on the chain, and what later observes its revision narrows it:
 *
 * - Each key holds, besides value, version and lease, the chain places of the entries that
 *   created it and last changed it (createRevision and modRevision are those entries'
 *   revisions; an absent key has 0).
 * - A get (alone or in a txn) answering createRevision/modRevision fixes those entries'
 *   revisions; answering version/lease/value checks them exactly.
 * - A txn's compare on value, version or lease is decided by the state. On createRevision or
 *   modRevision against a revision still unknown, both outcomes may be possible: the answer
 *   (succeeded or not) narrows the bounds so the compare has that outcome, with one branch
 *   per interval where it does (`!=` holds below or above the value; a failed txn failed on
 *   one of its compares). A txn whose answer was lost tries both outcomes. The checker's
 *   search tries each branch (Model.branches), so a history is refused only when no
 *   linearization and no revisions consistent with every answer explain it.
 * - A read at revision R sees the state after a prefix of the chain: every entry whose
 *   revision is surely ≤ R is in it, every entry surely > R is not, entries whose bounds
 *   straddle R may go either way (a branch per cut that explains the answer, narrowing the
 *   entries on both sides of it); what it answers is checked as a get's.
 *
 * Known revisions must grow with the linearization order. Values compare in UTF-8 byte order,
 * leases as integers (none = 0), as the engine's compares (storage/engines/kv-execute.ts).
 */

import type { ClientId, Operation } from "./history.js";
import type { Model, StepResult } from "./linearizability.js";
import {
  appendEntry,
  EMPTY_CHAIN,
  knownRevision,
  narrowBounds,
  type RevisionChain,
  satisfying,
  UNBOUNDED,
} from "./revision-bounds.js";

export type TxnSingleOp =
  | { readonly op: "put"; readonly key: string; readonly value: string; readonly lease?: string }
  | { readonly op: "get"; readonly key: string }
  | { readonly op: "delete"; readonly key: string };

export type CompareTarget = "value" | "version" | "createRevision" | "modRevision" | "lease";

export interface TxnCompareInput {
  readonly key: string;
  readonly target: CompareTarget;
  readonly op: "==" | "!=" | "<" | ">";
  /** A string for value, an integer for version and revisions, a lease id or null. */
  readonly value: string | number | null;
}

export type RevKvInput =
  | TxnSingleOp
  /** A get at a past revision. */
  | { readonly op: "get"; readonly key: string; readonly revision: number }
  | {
      readonly op: "txn";
      readonly compare: readonly TxnCompareInput[];
      readonly success: readonly TxnSingleOp[];
      readonly failure: readonly TxnSingleOp[];
    };

/** What a get answers of a key: each field given is checked (value: absent is null). */
export interface ReadOutput {
  readonly value?: string | null;
  readonly createRevision?: number;
  readonly modRevision?: number;
  readonly version?: number;
  readonly lease?: string | null;
}

/** Writes carry their revision when known; gets what they read; txn its branch and results. */
export interface RevKvOutput extends ReadOutput {
  readonly revision?: number;
  readonly succeeded?: boolean;
  /** A txn's op results, one per op of the branch that ran: its gets' are checked. */
  readonly results?: readonly ReadOutput[];
}

export type RevKvOperation = Operation<RevKvInput, RevKvOutput>;
export type { ClientId };

/** A key now; `create` and `mod` are places on the revision chain. */
interface KeyMeta {
  readonly value: string;
  readonly version: number;
  readonly create: number;
  readonly mod: number;
  readonly lease: string | null;
}

interface Write {
  /** Its entry's place on the revision chain. */
  readonly entry: number;
  readonly key: string;
  /** The key after the write; null: deleted. */
  readonly kv: KeyMeta | null;
}

/** The keys now, the revision chain, and every change in linearization order. */
export interface RevKvState {
  readonly keys: Readonly<Record<string, KeyMeta>>;
  readonly chain: RevisionChain;
  readonly writes: readonly Write[];
}

const REVISION_TARGETS: ReadonlySet<string> = new Set(["createRevision", "modRevision"]);

function isWrite(op: TxnSingleOp): boolean {
  return op.op !== "get";
}

/** Whether the operation is a log entry that writes (and so has a revision). */
function writes(input: RevKvInput): boolean {
  return input.op === "txn" ? [...input.success, ...input.failure].some(isWrite) : isWrite(input);
}

/** A revision field of a key as answered: fix its entry's revision (0: the key is absent). */
function fixRevision(chain: RevisionChain, entry: number | null, answered: number) {
  if (entry === null) return answered === 0 ? chain : null;
  return narrowBounds(chain, entry, [answered, answered]);
}

/** Check what a get answered of a key; the chain with the revisions it fixed, or null. */
function checkRead(chain: RevisionChain, kv: KeyMeta | null, read: ReadOutput) {
  if ((read.value ?? null) !== (kv?.value ?? null)) return null;
  if (read.version !== undefined && read.version !== (kv?.version ?? 0)) return null;
  if (read.lease !== undefined && (read.lease ?? null) !== (kv?.lease ?? null)) return null;
  let next: RevisionChain | null = chain;
  if (read.createRevision !== undefined)
    next = fixRevision(next, kv?.create ?? null, read.createRevision);
  if (next !== null && read.modRevision !== undefined)
    next = fixRevision(next, kv?.mod ?? null, read.modRevision);
  return next;
}

/**
 * The states in which a read at `at` answered `read`: it saw the key after a cut of the
 * write log, with every write before the cut at a revision ≤ `at` and every one after it
 * above (revisions grow along the log, so only cuts between the writes surely ≤ `at` and
 * those surely above it are tried); each cut that explains the answer is a branch.
 */
function readsAt(state: RevKvState, key: string, at: number, read: ReadOutput): RevKvState[] {
  const { writes } = state;
  const { lo, hi } = state.chain;
  let last = writes.findIndex((write) => lo[write.entry]! > at);
  if (last < 0) last = writes.length;
  let first = 0;
  for (let k = 0; k < last; k++) if (hi[writes[k]!.entry]! <= at) first = k + 1;
  let kv: KeyMeta | null = null;
  for (let k = 0; k < first; k++) if (writes[k]!.key === key) kv = writes[k]!.kv;
  const found: RevKvState[] = [];
  for (let cut = first; cut <= last; cut++) {
    if (cut > first && writes[cut - 1]!.key === key) kv = writes[cut - 1]!.kv;
    let chain: RevisionChain | null = state.chain;
    if (cut > 0) chain = narrowBounds(chain, writes[cut - 1]!.entry, [0, at]);
    if (chain !== null && cut < writes.length)
      chain = narrowBounds(chain, writes[cut]!.entry, [at + 1, UNBOUNDED]);
    if (chain !== null) chain = checkRead(chain, kv, read);
    if (chain !== null) found.push({ ...state, chain });
  }
  return found;
}

function order(a: string | bigint | number, b: string | bigint | number): number {
  if (typeof a === "string" && typeof b === "string")
    return Buffer.compare(Buffer.from(a), Buffer.from(b));
  return a < b ? -1 : a > b ? 1 : 0;
}

function decide(op: TxnCompareInput["op"], sign: number): boolean {
  return op === "==" ? sign === 0 : op === "!=" ? sign !== 0 : op === "<" ? sign < 0 : sign > 0;
}

/** The states in which `compare` has the outcome `holds`: narrowed where it is undecided. */
function withOutcome(state: RevKvState, compare: TxnCompareInput, holds: boolean): RevKvState[] {
  const kv = state.keys[compare.key];
  if (REVISION_TARGETS.has(compare.target) && kv !== undefined) {
    const entry = compare.target === "createRevision" ? kv.create : kv.mod;
    const value = Number(compare.value);
    const known = knownRevision(state.chain, entry);
    if (known !== null) return decide(compare.op, order(known, value)) === holds ? [state] : [];
    return satisfying(compare.op, value, holds).flatMap((within) => {
      const chain = narrowBounds(state.chain, entry, within);
      return chain === null ? [] : [{ ...state, chain }];
    });
  }
  let sign: number;
  if (compare.target === "value") {
    // A value compare on an absent key fails, whatever its op (etcd).
    if (kv === undefined) return holds ? [] : [state];
    sign = order(kv.value, String(compare.value));
  } else if (compare.target === "lease") {
    sign = order(BigInt(kv?.lease ?? 0), BigInt(compare.value ?? 0));
  } else {
    sign = order(compare.target === "version" ? (kv?.version ?? 0) : 0, Number(compare.value));
  }
  return decide(compare.op, sign) === holds ? [state] : [];
}

/** The states where the txn's compares all hold (succeeded) or one fails (not). */
function compared(state: RevKvState, compares: readonly TxnCompareInput[], succeeded: boolean) {
  if (succeeded)
    return compares.reduce<RevKvState[]>(
      (states, compare) => states.flatMap((s) => withOutcome(s, compare, true)),
      [state],
    );
  return compares.flatMap((compare) => withOutcome(state, compare, false));
}

/** Apply a branch's ops as the entry at place `entry`; the gets' reads in order. */
function run(state: RevKvState, ops: readonly TxnSingleOp[], entry: number | null) {
  const keys = { ...state.keys };
  const log = [...state.writes];
  const reads: (KeyMeta | null)[] = [];
  for (const op of ops) {
    const prev = keys[op.key];
    if (op.op === "get") {
      reads.push(prev ?? null);
      continue;
    }
    if (entry === null) throw new Error("txn model: a write without a revision entry");
    if (op.op === "delete" && prev === undefined) continue; // no change, no write
    if (op.op === "put")
      keys[op.key] = {
        value: op.value,
        version: (prev?.version ?? 0) + 1,
        create: prev?.create ?? entry,
        mod: entry,
        lease: op.lease ?? null,
      };
    else delete keys[op.key];
    log.push({ entry, key: op.key, kv: keys[op.key] ?? null });
  }
  return { state: { ...state, keys, writes: log }, reads };
}

/** Run `ops` after the compares, then hold the gets' answers against what they read. */
function ranBranch(
  state: RevKvState,
  input: RevKvInput,
  ops: readonly TxnSingleOp[],
  output: RevKvOutput | undefined,
): RevKvState | null {
  let entry: number | null = null;
  let chain: RevisionChain | null = state.chain;
  if (writes(input)) {
    chain = appendEntry(state.chain, output?.revision ?? null);
    if (chain === null) return null; // known revisions grow with the linearization order
    entry = chain.lo.length - 1;
  }
  const after = run({ ...state, chain }, ops, entry);
  if (output === undefined) return after.state;
  const answers =
    input.op === "txn" ? (output.results ?? []).filter((_, k) => ops[k]?.op === "get") : [output];
  if (input.op !== "txn" && input.op !== "get") return after.state;
  for (const [k, read] of answers.entries()) {
    if (after.reads[k] === undefined) return null;
    chain = checkRead(chain, after.reads[k]!, read);
    if (chain === null) return null;
  }
  return { ...after.state, chain };
}

/** Every state the operation may leave (see the header). */
function branches(
  state: RevKvState,
  input: RevKvInput,
  output: RevKvOutput | undefined,
): RevKvState[] {
  if (input.op === "get" && "revision" in input) {
    return output === undefined ? [state] : readsAt(state, input.key, input.revision, output);
  }
  if (input.op !== "txn") {
    const next = ranBranch(state, input, [input], output);
    return next === null ? [] : [next];
  }
  const outcomes = output === undefined ? [true, false] : [output.succeeded === true];
  const found = new Map<string, RevKvState>();
  for (const succeeded of outcomes) {
    for (const s of compared(state, input.compare, succeeded)) {
      const next = ranBranch(s, input, succeeded ? input.success : input.failure, output);
      if (next !== null) found.set(JSON.stringify(next), next);
    }
  }
  return [...found.values()];
}

function step(
  state: RevKvState,
  input: RevKvInput,
  output: RevKvOutput | undefined,
): StepResult<RevKvState> {
  const next = branches(state, input, output);
  return next.length === 0 ? { ok: false } : { ok: true, state: next[0]! };
}

function describeState(state: RevKvState): string {
  const { lo, hi } = state.chain;
  const revision = (entry: number) =>
    lo[entry] === hi[entry]
      ? String(lo[entry])
      : `${lo[entry]}..${hi[entry] === UNBOUNDED ? "" : hi[entry]}`;
  const keys = Object.entries(state.keys).map(
    ([key, kv]) =>
      `${JSON.stringify(key)}: ${JSON.stringify(kv.value)} (version ${kv.version}, ` +
      `create ${revision(kv.create)}, mod ${revision(kv.mod)}, lease ${kv.lease ?? "none"})`,
  );
  return `{${keys.join(", ")}}`;
}

function validateCompare(compare: TxnCompareInput): string | null {
  const { target, value } = compare;
  if (!["==", "!=", "<", ">"].includes(compare.op)) return `unknown compare op ${compare.op}`;
  if (target === "value")
    return typeof value === "string" ? null : "a value compare needs a string";
  if (target === "lease")
    return value === null || /^\d+$/.test(String(value)) ? null : "a lease compare needs an id";
  if (target === "version" || REVISION_TARGETS.has(target))
    return Number.isSafeInteger(value) ? null : `a ${target} compare needs an integer`;
  return `unknown compare target ${String(target)}`;
}

function validate(input: RevKvInput, output: RevKvOutput | undefined): string | null {
  if (typeof input !== "object" || input === null) return "the input is not an object";
  if (output?.revision !== undefined && !Number.isSafeInteger(output.revision))
    return "revision must be an integer";
  if (input.op === "txn") {
    for (const compare of input.compare) {
      const error = validateCompare(compare);
      if (error !== null) return error;
    }
    return null;
  }
  return ["put", "get", "delete"].includes(input.op) ? null : `unknown op ${String(input.op)}`;
}

export const revKvModel: Model<RevKvState, RevKvInput, RevKvOutput> = {
  init: () => ({ keys: {}, chain: EMPTY_CHAIN, writes: [] }),
  step,
  branches,
  stateKey: (state) => JSON.stringify(state),
  readOnly: (input) => !writes(input),
  validate: (input, output) => validate(input, output),
  describeOperation: (input, output) =>
    `${JSON.stringify(input)} → ${output === undefined ? "?" : JSON.stringify(output)}`,
  describeState,
};
