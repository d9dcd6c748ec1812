import { describe, expect, test } from "vitest";
import {
  type RevKvInput,
  type RevKvOperation,
  type RevKvOutput,
  revKvModel,
  type TxnSingleOp,
} from "../../src/check/kv-txn-model.js";
import { checkOperations } from "../../src/check/linearizability.js";

const INF = Number.POSITIVE_INFINITY;

/** An operation called at `call` and returned at `ret` (INF: never returned). */
function op(
  clientId: number,
  call: number,
  ret: number,
  input: RevKvInput,
  output?: RevKvOutput,
): RevKvOperation {
  return { clientId, call, return: ret, input, ...(ret === INF ? {} : { output }) };
}

const put = (key: string, value: string): TxnSingleOp => ({ op: "put", key, value });
const get = (key: string): TxnSingleOp => ({ op: "get", key });
const getAt = (key: string, revision: number): RevKvInput => ({ op: "get", key, revision });
const check = (history: RevKvOperation[]) => checkOperations(revKvModel, history).ok;

const transfer: RevKvInput = {
  op: "txn",
  compare: [{ key: "a", target: "value", op: "==", value: "1" }],
  success: [put("a", "0"), put("b", "1")],
  failure: [get("a")],
};

describe("linearizability - txn and reads at a revision", () => {
  test("txn model - a txn is atomic: a read seeing half of it is not linearizable", () => {
    const before = [op(1, 0, 1, put("a", "1"), { revision: 1 })];
    const txn = op(1, 2, 5, transfer, { revision: 2, succeeded: true, results: [{}, {}] });
    expect(
      check([
        ...before,
        txn,
        op(2, 3, 4, get("a"), { value: "0" }),
        op(2, 6, 7, get("b"), { value: "1" }),
      ]),
    ).toBe(true);
    // b read as absent after a was read as 0 (both after the txn began): half a txn.
    expect(
      check([
        ...before,
        txn,
        op(2, 3, 4, get("a"), { value: "0" }),
        op(2, 4.5, 4.8, get("b"), { value: null }),
      ]),
    ).toBe(false);
  });

  test("txn model - the branch must follow the compares; failure's gets see the state", () => {
    const history = [op(1, 0, 1, put("a", "2"), { revision: 1 })];
    const failed = { revision: 2, succeeded: false, results: [{ value: "2" }] };
    expect(check([...history, op(1, 2, 3, transfer, failed)])).toBe(true);
    expect(check([...history, op(1, 2, 3, transfer, { ...failed, succeeded: true })])).toBe(false);
    expect(
      check([...history, op(1, 2, 3, transfer, { ...failed, results: [{ value: "9" }] })]),
    ).toBe(false);
    // Version compares: the key was put once.
    const versioned: RevKvInput = {
      op: "txn",
      compare: [{ key: "a", target: "version", op: "==", value: 1 }],
      success: [put("c", "x")],
      failure: [],
    };
    expect(check([...history, op(1, 2, 3, versioned, { revision: 2, succeeded: true })])).toBe(
      true,
    );
    expect(check([...history, op(1, 2, 3, versioned, { revision: 2, succeeded: false })])).toBe(
      false,
    );
  });

  test("txn model - a read at a revision sees the state then, not a later write", () => {
    const writes = [
      op(1, 0, 1, put("k", "a"), { revision: 3 }),
      op(1, 2, 3, put("k", "b"), { revision: 7 }),
    ];
    expect(check([...writes, op(2, 4, 5, getAt("k", 3), { value: "a" })])).toBe(true);
    expect(check([...writes, op(2, 4, 5, getAt("k", 6), { value: "a" })])).toBe(true);
    expect(check([...writes, op(2, 4, 5, getAt("k", 2), { value: null })])).toBe(true);
    expect(check([...writes, op(2, 4, 5, getAt("k", 7), { value: "b" })])).toBe(true);
    expect(check([...writes, op(2, 4, 5, getAt("k", 5), { value: "b" })])).toBe(false);
    expect(check([...writes, op(2, 4, 5, getAt("k", 2), { value: "a" })])).toBe(false);
  });

  test("txn model - revisions must grow with real time; an unknown write may land on either side", () => {
    expect(
      check([
        op(1, 0, 1, put("k", "a"), { revision: 5 }),
        op(1, 2, 3, put("k", "b"), { revision: 4 }),
      ]),
    ).toBe(false);
    const unknown = [
      op(1, 0, 1, put("k", "a"), { revision: 3 }),
      op(2, 1.5, INF, put("k", "u")),
      op(1, 2, 3, put("k", "b"), { revision: 9 }),
    ];
    // Between revisions 3 and 9 the read may see "a" or the unknown write "u".
    expect(check([...unknown, op(3, 4, 5, getAt("k", 5), { value: "u" })])).toBe(true);
    expect(check([...unknown, op(3, 4, 5, getAt("k", 5), { value: "a" })])).toBe(true);
    expect(check([...unknown, op(3, 4, 5, getAt("k", 5), { value: "b" })])).toBe(false);
  });

  test("txn model - malformed compares are refused", () => {
    const history = [
      op(1, 0, 1, {
        op: "txn",
        compare: [{ key: "a", target: "modRevision", op: "==", value: "7" }],
        success: [],
        failure: [],
      }),
    ];
    expect(() => checkOperations(revKvModel, history)).toThrow(
      /modRevision compare needs an integer/,
    );
  });
});
