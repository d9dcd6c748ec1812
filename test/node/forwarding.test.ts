import pino from "pino";
import { describe, expect, test } from "vitest";
import type { ClientItem, ReplicatePort, RespondPort } from "../../stages/items.js";
import type { ErrorCode } from "../../stages/protocol.js";
import { Forwarding } from "../../stages/raft-step/forwarding.js";
import { MemberDirectory } from "../../stages/raft-step/members.js";

/** A follower's forwarded writes when the leader they went to dies (issue 14). */

function forwardingTo(): { forwarding: Forwarding; refused: [number, ErrorCode][] } {
  const refused: [number, ErrorCode][] = [];
  const forwarding = new Forwarding(
    {
      replicate: { forward: () => true } as unknown as ReplicatePort,
      respond: {} as RespondPort,
      refuse: (item, code) =>
        refused.push([Number(item.target.kind === "local" && item.target.id), code]),
      now: () => 0,
    },
    new MemberDirectory(new Map()),
    { forwarding: true, adminTimeoutMs: 10_000 },
    { forwarded: 0, strayForwardReplies: 0 },
    pino({ level: "silent" }),
  );
  return { forwarding, refused };
}

function put(id: number): ClientItem {
  return {
    kind: "client",
    target: { kind: "local", connId: 1, id },
    request: { op: "put", key: `k${id}`, value: "v" },
    admin: false,
    deadline: 60_000,
  } as unknown as ClientItem;
}

describe("forwarding - the leader's process is gone", () => {
  test("forwarding - writes forwarded to a dead leader are answered TIMEOUT at once, not at their deadline", () => {
    const { forwarding, refused } = forwardingTo();
    forwarding.notLeader(put(1), "n1");
    forwarding.notLeader(put(2), "n1");
    expect(forwarding.size).toBe(2);
    forwarding.peerGone("n3"); // another peer: nothing of ours went there
    expect(refused).toEqual([]);
    forwarding.peerGone("n1");
    expect(refused).toEqual([
      [1, "TIMEOUT"],
      [2, "TIMEOUT"],
    ]);
    expect(forwarding.size).toBe(0);
    // A late reply from the dead leader finds nothing to answer.
    expect(forwarding.onReply(1, "n1")).toBeNull();
  });
});
