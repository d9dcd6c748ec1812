import { describe, expect, it } from "vitest";
import { MemberDirectory, promoteIntent } from "../../stages/raft-step/members.js";

function directory(): MemberDirectory {
  return new MemberDirectory(new Map([["n1", "127.0.0.1:8001"]]));
}

describe("members - a configuration context from the log", () => {
  it("members - contexts of another shape are ignored, never thrown on", () => {
    const hostile = ["null", "5", '"x"', "[1]", '{"members":5}', '{"members":[null,1,"n2"]}', "{"];
    for (const context of hostile) {
      const members = directory();
      expect(members.mergeContext(context), context).toEqual([]);
      expect(promoteIntent(context), context).toEqual([]);
      expect(members.get("n1")?.peer).toBe("127.0.0.1:8001");
    }
  });

  it("members - a member's client that is not a string keeps the one already known", () => {
    const members = directory();
    members.learnClient("n1", "127.0.0.1:7001");
    const merged = members.mergeContext(
      JSON.stringify({ members: [{ name: "n1", peer: "127.0.0.1:8001", client: { a: 1 } }] }),
    );
    expect(merged).toEqual([{ name: "n1", peer: "127.0.0.1:8001", client: "127.0.0.1:7001" }]);
    expect(promoteIntent(JSON.stringify({ promote: ["n4", 7, null] }))).toEqual(["n4"]);
  });
});
