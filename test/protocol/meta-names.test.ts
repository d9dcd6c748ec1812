import { describe, expect, it } from "vitest";
import { decodeCommand, encodeCommand, type LogCommand } from "../../stages/apply/commands.js";
import { defaultProtocolLimits } from "../../stages/protocol.js";
import { decodeRequest } from "../../stages/protocol-decode.js";

/**
 * Meta field names that JavaScript treats specially (`__proto__`, `constructor`, `prototype`)
 * are ordinary names to a client: they must reach the log and come back out of it intact.
 */

const SPECIAL = '{"__proto__":"x","constructor":"y","prototype":"z","plain":1}';
const NULL_PROTO = '{"__proto__":null}';

function vputFrame(meta: string): string {
  return `{"id":1,"op":"vput","collection":"c","key":"k","vector":[1,2],"meta":${meta}}`;
}

describe("meta names - decode path", () => {
  it("meta names - decodeRequest keeps __proto__, constructor and prototype as own fields", () => {
    const decoded = decodeRequest(vputFrame(SPECIAL), defaultProtocolLimits);
    expect(decoded.ok).toBe(true);
    if (!decoded.ok || decoded.request.op !== "vput" || !("key" in decoded.request))
      throw new Error("not a single vput");
    const meta = decoded.request.meta!;
    expect(Object.keys(meta)).toEqual(["__proto__", "constructor", "prototype", "plain"]);
    expect(JSON.stringify(meta)).toBe(SPECIAL);
    expect(Object.getPrototypeOf(meta)).toBe(Object.prototype);
  });

  it("meta names - a vput command keeps its meta field names through the log encoding", () => {
    for (const text of [SPECIAL, NULL_PROTO]) {
      const meta = JSON.parse(text) as Record<string, string | number | null>;
      const command: LogCommand = {
        vec: { op: "vput", collection: "c", key: "k", vector: [1, 2], meta },
        session: { id: "s", seq: 1 },
        ts: 1,
      };
      const back = decodeCommand(encodeCommand(command));
      expect(back.vec?.op).toBe("vput");
      const kept = back.vec?.op === "vput" && "meta" in back.vec ? back.vec.meta : undefined;
      expect(JSON.stringify(kept), text).toBe(text);
      expect(Object.getPrototypeOf(kept)).toBe(Object.prototype);
      expect(back.session).toEqual({ id: "s", seq: 1 });
      expect(JSON.stringify({ ...back, vec: { ...back.vec, meta: undefined } })).toBe(
        JSON.stringify({ ...command, vec: { ...command.vec, meta: undefined } }),
      );
    }
    // Nothing leaked into every object's prototype.
    expect(({} as Record<string, unknown>).plain).toBeUndefined();
  });

  it("meta names - a vput without meta and other commands encode as before", () => {
    const plain: LogCommand = {
      vec: { op: "vput", collection: "c", key: "k", vector: [1] },
      ts: 2,
    };
    expect(decodeCommand(encodeCommand(plain))).toEqual(plain);
    const kv: LogCommand = { kv: { op: "put", key: "__proto__", value: "v" }, ts: 3 };
    expect(decodeCommand(encodeCommand(kv))).toEqual(kv);
  });
});
