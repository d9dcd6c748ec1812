import { describe, expect, test } from "vitest";
import {
  type RevKvInput,
  type RevKvOperation,
  type RevKvOutput,
  revKvModel,
  type TxnCompareInput,
  type TxnSingleOp,
} from "../../src/check/kv-txn-model.js";
import { checkOperations } from "../../src/check/linearizability.js";

/** An operation called at `call` and returned at `ret` (null: never returned). */
function op(
  clientId: number,
  call: number,
  ret: number | null,
  input: RevKvInput,
  output?: RevKvOutput,
): RevKvOperation {
  return { clientId, call, return: ret, input, ...(ret === null ? {} : { output }) };
}

const put = (key: string, value: string, lease?: string): TxnSingleOp =>
  lease === undefined ? { op: "put", key, value } : { op: "put", key, value, lease };
const get = (key: string): TxnSingleOp => ({ op: "get", key });
const del = (key: string): TxnSingleOp => ({ op: "delete", key });
const on = (
  key: string,
  target: TxnCompareInput["target"],
  cmp: TxnCompareInput["op"],
  value: TxnCompareInput["value"],
): TxnCompareInput => ({ key, target, op: cmp, value });
const txn = (
  compare: TxnCompareInput[],
  success: TxnSingleOp[],
  failure: TxnSingleOp[] = [],
): RevKvInput => ({ op: "txn", compare, success, failure });
const check = (history: RevKvOperation[]) => checkOperations(revKvModel, history).ok;

/** etcd's "create if absent": put the key only while no generation of it exists. */
const createIfAbsent = (value: string) =>
  txn([on("lock", "createRevision", "==", 0)], [put("lock", value)], [get("lock")]);
const won = (revision: number): RevKvOutput => ({ revision, succeeded: true, results: [{}] });
const lost = (revision: number, holder: string): RevKvOutput => ({
  revision,
  succeeded: false,
  results: [{ value: holder }],
});

describe("linearizability - txn compares on createRevision, modRevision and lease", () => {
  test("create if absent - succeeds once per generation of the key", () => {
    const first = op(1, 0, 1, createIfAbsent("c1"), won(2));
    expect(check([first, op(2, 2, 3, createIfAbsent("c2"), lost(3, "c1"))])).toBe(true);
    // Twice without a delete between: two holders of one lock.
    expect(check([first, op(2, 2, 3, createIfAbsent("c2"), won(3))])).toBe(false);
    // With a delete between, the second creates a new generation.
    const deleted = op(1, 1.5, 1.8, del("lock"), { revision: 3 });
    expect(check([first, deleted, op(2, 2, 3, createIfAbsent("c2"), won(4))])).toBe(true);
    // Two concurrent creates: one must lose.
    const racing = [op(1, 0, 5, createIfAbsent("c1"), won(2)), op(2, 0, 5, createIfAbsent("c2"))];
    expect(check([racing[0]!, { ...racing[1]!, output: lost(3, "c1") }])).toBe(true);
    expect(check([racing[0]!, { ...racing[1]!, output: won(3) }])).toBe(false);
  });

  test("create if absent - a create whose answer was lost may have taken the lock", () => {
    const lostCreate = op(1, 0, null, createIfAbsent("c1"));
    // It did not happen, or happened after: the second create may win.
    expect(check([lostCreate, op(2, 2, 3, createIfAbsent("c2"), won(3))])).toBe(true);
    // It happened first: the second loses to it.
    expect(check([lostCreate, op(2, 2, 3, createIfAbsent("c2"), lost(3, "c1"))])).toBe(true);
    // Both lost to a holder no one wrote.
    expect(check([lostCreate, op(2, 2, 3, createIfAbsent("c2"), lost(3, "c9"))])).toBe(false);
    // A read saw it hold the lock: a later create cannot win.
    const seen = op(3, 1, 1.5, get("lock"), { value: "c1" });
    expect(check([lostCreate, seen, op(2, 2, 3, createIfAbsent("c2"), won(3))])).toBe(false);
  });

  test("modRevision - a compare against an overwritten revision cannot succeed", () => {
    const writes = [
      op(1, 0, 1, put("k", "a"), { revision: 3 }),
      op(1, 2, 3, put("k", "b"), { revision: 5 }),
    ];
    const update = (rev: number) => txn([on("k", "modRevision", "==", rev)], [put("k", "c")]);
    expect(check([...writes, op(2, 4, 5, update(5), { revision: 6, succeeded: true })])).toBe(true);
    expect(check([...writes, op(2, 4, 5, update(3), { revision: 6, succeeded: false })])).toBe(
      true,
    );
    expect(check([...writes, op(2, 4, 5, update(3), { revision: 6, succeeded: true })])).toBe(
      false,
    );
    // Concurrent with the overwrite, it may have gone first.
    const early = op(2, 2.5, 5, update(3), { revision: 4, succeeded: true });
    expect(check([writes[0]!, { ...writes[1]!, return: 6 }, early])).toBe(true);
    // < and > are decided by the same revision: 5 is not below 5.
    const below = txn([on("k", "modRevision", "<", 5)], [put("x", "1")]);
    expect(check([...writes, op(2, 4, 5, below, { revision: 6, succeeded: true })])).toBe(false);
    const above = txn([on("k", "modRevision", ">", 4)], [put("x", "1")]);
    expect(check([...writes, op(2, 4, 5, above, { revision: 6, succeeded: true })])).toBe(true);
  });

  test("modRevision - a write whose answer was lost has a revision between its neighbours", () => {
    const around = [
      op(1, 0, 1, put("k", "a"), { revision: 3 }),
      op(2, 1.5, null, put("k", "u")),
      op(1, 2, 3, put("z", "end"), { revision: 9 }),
    ];
    const update = (rev: number) => txn([on("k", "modRevision", "==", rev)], [put("x", "1")]);
    // The lost write may be revision 6 (between 3 and 9): a compare on 6 may succeed.
    expect(check([...around, op(3, 4, 5, update(6), { revision: 10, succeeded: true })])).toBe(
      true,
    );
    // Not 9 or above: that is another entry's, or after it.
    expect(check([...around, op(3, 4, 5, update(9), { revision: 10, succeeded: true })])).toBe(
      false,
    );
    // A read that answered its revision fixes it: a compare on another one cannot succeed.
    const read = op(3, 4, 5, get("k"), { value: "u", modRevision: 7 });
    expect(
      check([...around, read, op(3, 6, 7, update(7), { revision: 10, succeeded: true })]),
    ).toBe(true);
    expect(
      check([...around, read, op(3, 6, 7, update(6), { revision: 10, succeeded: true })]),
    ).toBe(false);
  });

  test("modRevision - what a compare learnt is held against later answers", () => {
    const start = [op(1, 0, 1, put("k", "a"), { revision: 3 }), op(2, 1.5, null, put("k", "u"))];
    // It succeeded against the lost write's revision 8, so that write came before it at 8...
    const cas8 = op(3, 2, 3, txn([on("k", "modRevision", "==", 8)], [put("x", "1")]), {
      revision: 6,
      succeeded: true,
    });
    // ...and the txn's own revision 6 cannot come after 8.
    expect(check([...start, cas8])).toBe(false);
    expect(check([...start, { ...cas8, output: { revision: 9, succeeded: true } }])).toBe(true);
    // A read at a revision before 8 cannot see the lost write once the compare fixed it.
    const fixed = { ...cas8, output: { revision: 9, succeeded: true } };
    const past = (value: string) => op(4, 4, 5, { op: "get", key: "k", revision: 5 }, { value });
    expect(check([...start, fixed, past("a")])).toBe(true);
    expect(check([...start, fixed, past("u")])).toBe(false);
  });

  test("modRevision - a txn whose answer was lost may have taken either branch", () => {
    const history = [
      op(1, 0, 1, put("k", "a"), { revision: 3 }),
      op(2, 1.5, null, put("k", "u")),
      op(3, 2, 3, get("k"), { value: "u" }),
      op(
        3,
        4,
        null,
        txn(
          [on("k", "modRevision", "==", 5)],
          [put("branch", "success")],
          [put("branch", "failure")],
        ),
      ),
    ];
    const seen = (value: string | null) => op(4, 6, 7, get("branch"), { value });
    expect(check([...history, seen("success")])).toBe(true);
    expect(check([...history, seen("failure")])).toBe(true);
    expect(check([...history, seen("neither")])).toBe(false);
  });

  test("reads at a revision - what they answer is held against the revision chain", () => {
    const around = [
      op(1, 0, 1, put("k", "a"), { revision: 3 }),
      op(2, 1.5, null, put("k", "u")),
      op(1, 2, 3, put("z", "end"), { revision: 9 }),
    ];
    const pastRead = (output: RevKvOutput) =>
      op(3, 4, 5, { op: "get", key: "k", revision: 5 }, output);
    const update = (rev: number) => txn([on("k", "modRevision", "==", rev)], [put("x", "1")]);
    const cas = (rev: number) => op(3, 6, 7, update(rev), { revision: 10, succeeded: true });
    // Seeing the lost write at 5 puts its revision at 5 or below...
    const sawU = pastRead({ value: "u" });
    expect(check([...around, sawU, cas(5)])).toBe(true);
    expect(check([...around, sawU, cas(7)])).toBe(false);
    // ...not seeing it puts it above 5 (if it happened at all).
    const sawA = pastRead({ value: "a", modRevision: 3, version: 1 });
    expect(check([...around, sawA, cas(7)])).toBe(true);
    expect(check([...around, sawA, cas(4)])).toBe(false);
    // The metadata answered is the key's then.
    expect(check([...around, pastRead({ value: "a", modRevision: 3, version: 2 })])).toBe(false);
    const fixed = pastRead({ value: "u", createRevision: 3, modRevision: 4, version: 2 });
    expect(check([...around, fixed, cas(4)])).toBe(true);
    expect(check([...around, fixed, cas(5)])).toBe(false);
  });

  test("createRevision and version - a new generation starts after a delete", () => {
    const history = [
      op(1, 0, 1, put("k", "a"), { revision: 2 }),
      op(1, 2, 3, put("k", "b"), { revision: 4 }),
      op(1, 4, 5, del("k"), { revision: 6 }),
      op(1, 6, 7, put("k", "c"), { revision: 8 }),
    ];
    const read = (output: RevKvOutput) => op(2, 8, 9, get("k"), output);
    const kv = { value: "c", createRevision: 8, modRevision: 8, version: 1, lease: null };
    expect(check([...history, read(kv)])).toBe(true);
    expect(check([...history, read({ ...kv, createRevision: 2 })])).toBe(false);
    expect(check([...history, read({ ...kv, version: 3 })])).toBe(false);
    const older = (rev: number) => txn([on("k", "createRevision", "<", rev)], [put("x", "1")]);
    expect(check([...history, op(2, 8, 9, older(8), { revision: 9, succeeded: false })])).toBe(
      true,
    );
    expect(check([...history, op(2, 8, 9, older(8), { revision: 9, succeeded: true })])).toBe(
      false,
    );
  });

  test("lease - a put attaches its lease, a put without one detaches it", () => {
    const attached = op(1, 0, 1, put("k", "a", "77"), { revision: 2 });
    const held = (lease: string | null) => txn([on("k", "lease", "==", lease)], [put("x", "1")]);
    const answer = (succeeded: boolean): RevKvOutput => ({ revision: 5, succeeded });
    expect(check([attached, op(2, 2, 3, held("77"), answer(true))])).toBe(true);
    expect(check([attached, op(2, 2, 3, held(null), answer(true))])).toBe(false);
    const detached = op(1, 1.2, 1.5, put("k", "b"), { revision: 3 });
    expect(check([attached, detached, op(2, 2, 3, held(null), answer(true))])).toBe(true);
    expect(check([attached, detached, op(2, 2, 3, held("77"), answer(true))])).toBe(false);
    const read = (lease: string | null) => op(2, 2, 3, get("k"), { value: "a", lease });
    expect(check([attached, read("77")])).toBe(true);
    expect(check([attached, read(null)])).toBe(false);
  });
});
