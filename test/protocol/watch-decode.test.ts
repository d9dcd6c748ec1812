import { describe, expect, test } from "vitest";
import { decodeRequest } from "../../stages/protocol-decode.js";

/** The gateway checks of watch and cancel-watch (stages/protocol-watch.ts; CONTRACT §5). */

function decode(frame: Record<string, unknown>) {
  return decodeRequest(JSON.stringify({ id: 1, ...frame }));
}

function refusal(frame: Record<string, unknown>): string {
  const result = decode(frame);
  if (result.ok) throw new Error(`accepted: ${JSON.stringify(frame)}`);
  expect(result.error.code).toBe("BAD_REQUEST");
  return result.error.message;
}

describe("protocol - watch", () => {
  test("key, prefix or start/end, with the options and their defaults", () => {
    expect(decode({ op: "watch", key: "a" })).toEqual({
      ok: true,
      id: 1,
      request: { op: "watch", key: "a", prevKv: false, noPut: false, noDelete: false },
    });
    expect(
      decode({ op: "watch", prefix: "cfg/", startRevision: 7, prevKv: true, noDelete: true }),
    ).toMatchObject({
      ok: true,
      request: {
        op: "watch",
        prefix: "cfg/",
        startRevision: 7,
        prevKv: true,
        noPut: false,
        noDelete: true,
      },
    });
    expect(decode({ op: "watch", prefix: "" })).toMatchObject({
      ok: true,
      request: { prefix: "" },
    });
    expect(decode({ op: "watch", start: "a", end: "b" })).toMatchObject({
      ok: true,
      request: { start: "a", end: "b" },
    });
    expect(decode({ op: "watch", start: "a" })).toMatchObject({
      ok: true,
      request: { start: "a" },
    });
    expect(decode({ op: "watch", end: "b" })).toMatchObject({ ok: true, request: { end: "b" } });
  });

  test("every bad field is named", () => {
    expect(refusal({ op: "watch" })).toContain('"key", "prefix" or "start"/"end"');
    expect(refusal({ op: "watch", key: "a", prefix: "b" })).toContain('"prefix"');
    expect(refusal({ op: "watch", prefix: "a", end: "b" })).toContain('"end"');
    expect(refusal({ op: "watch", key: "" })).toContain('"key"');
    expect(refusal({ op: "watch", key: 5 })).toContain('"key"');
    expect(refusal({ op: "watch", prefix: 1 })).toContain('"prefix"');
    expect(refusal({ op: "watch", start: "b", end: "a" })).toContain('"end"');
    expect(refusal({ op: "watch", start: "a", end: "a" })).toContain('"end"');
    for (const startRevision of [0, -1, 1.5, "3", null, 2 ** 60])
      expect(refusal({ op: "watch", key: "a", startRevision })).toContain('"startRevision"');
    for (const name of ["prevKv", "noPut", "noDelete"])
      expect(refusal({ op: "watch", key: "a", [name]: "yes" })).toContain(`"${name}"`);
  });

  test("cancel-watch names a watch id", () => {
    expect(decode({ op: "cancel-watch", watch: 3 })).toEqual({
      ok: true,
      id: 1,
      request: { op: "cancel-watch", watch: 3 },
    });
    for (const watch of [undefined, 0, -2, 1.5, "3"])
      expect(refusal({ op: "cancel-watch", watch })).toContain('"watch"');
  });
});
