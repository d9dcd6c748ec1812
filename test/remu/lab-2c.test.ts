/** Lab 2C (persistence) of the MIT 6.824 / 6.5840 Raft lab, on remu: crash = power loss. */
import { describe } from "vitest";
import { type Lab, RAFT_ELECTION_TIMEOUT, type Task } from "./lab-harness.js";
import { labTest } from "./lab-test.js";

const seeds = [1, 2, 3];

describe("lab 2C", () => {
  labTest("lab 2C - basic persistence (persist1)", seeds, { servers: 3 }, (lab) => {
    const servers = 3;
    lab.one("11", servers, true);

    // Crash and re-start all.
    for (let i = 0; i < servers; i++) lab.start1(i);
    for (let i = 0; i < servers; i++) {
      lab.disconnect(i);
      lab.connect(i);
    }

    lab.one("12", servers, true);

    const leader1 = lab.checkOneLeader();
    lab.disconnect(leader1);
    lab.start1(leader1);
    lab.connect(leader1);

    lab.one("13", servers, true);

    const leader2 = lab.checkOneLeader();
    lab.disconnect(leader2);
    const index14 = lab.one("14", servers - 1, true);
    lab.start1(leader2);
    lab.connect(leader2);

    lab.wait(index14, servers, -1); // wait for leader2 to join before killing i3

    const i3 = (lab.checkOneLeader() + 1) % servers;
    lab.disconnect(i3);
    lab.one("15", servers - 1, true);
    lab.start1(i3);
    lab.connect(i3);

    lab.one("16", servers, true);
  });

  labTest("lab 2C - more persistence (persist2)", seeds, { servers: 5 }, (lab) => {
    const servers = 5;
    let index = 1;
    for (let iters = 0; iters < 5; iters++) {
      lab.one(String(10 + index), servers, true);
      index++;

      const leader1 = lab.checkOneLeader();

      lab.disconnect((leader1 + 1) % servers);
      lab.disconnect((leader1 + 2) % servers);

      lab.one(String(10 + index), servers - 2, true);
      index++;

      lab.disconnect((leader1 + 0) % servers);
      lab.disconnect((leader1 + 3) % servers);
      lab.disconnect((leader1 + 4) % servers);

      lab.start1((leader1 + 1) % servers);
      lab.start1((leader1 + 2) % servers);
      lab.connect((leader1 + 1) % servers);
      lab.connect((leader1 + 2) % servers);

      lab.sleep(RAFT_ELECTION_TIMEOUT);

      lab.start1((leader1 + 3) % servers);
      lab.connect((leader1 + 3) % servers);

      lab.one(String(10 + index), servers - 2, true);
      index++;

      lab.connect((leader1 + 4) % servers);
      lab.connect((leader1 + 0) % servers);
    }
    lab.one("1000", servers, true);
  });

  labTest(
    "lab 2C - partitioned leader and one follower crash, leader restarts (persist3)",
    seeds,
    { servers: 3 },
    (lab) => {
      const servers = 3;
      lab.one("101", 3, true);

      const leader = lab.checkOneLeader();
      lab.disconnect((leader + 2) % servers);

      lab.one("102", 2, true);

      lab.crash1((leader + 0) % servers);
      lab.crash1((leader + 1) % servers);
      lab.connect((leader + 2) % servers);
      lab.start1((leader + 0) % servers);
      lab.connect((leader + 0) % servers);

      lab.one("103", 2, true);

      lab.start1((leader + 1) % servers);
      lab.connect((leader + 1) % servers);

      lab.one("104", servers, true);
    },
  );

  // Test the scenarios described in Figure 8 of the extended Raft paper. Each iteration asks a
  // leader, if there is one, to insert a command in the Raft log. If there is a leader, that
  // leader will fail quickly with a high probability (perhaps without committing the command),
  // or crash after a while with low probability (most likely committing the command). If the
  // number of alive servers isn't enough to form a majority, perhaps start a new server. The
  // leader in a new term may try to finish replicating log entries that haven't been committed
  // yet.
  labTest("lab 2C - Figure 8", seeds, { servers: 5 }, (lab) => {
    const servers = 5;
    lab.one(lab.randCmd(), 1, true);

    let nup = servers;
    let leadersCrashed = 0;
    for (let iters = 0; iters < 1000; iters++) {
      let leader = -1;
      for (let i = 0; i < servers; i++) {
        if (lab.isUp(i) && lab.start(i, lab.randCmd()).ok) leader = i;
      }

      if (lab.rand.int(1000) < 100) lab.sleep(lab.rand.int(RAFT_ELECTION_TIMEOUT / 2));
      else lab.sleep(lab.rand.int(13));

      if (leader !== -1) {
        lab.crash1(leader);
        nup--;
        leadersCrashed++;
      }

      if (nup < 3) {
        const s = lab.rand.int(servers);
        if (!lab.isUp(s)) {
          lab.start1(s);
          lab.connect(s);
          nup++;
        }
      }
    }

    for (let i = 0; i < servers; i++) {
      if (!lab.isUp(i)) {
        lab.start1(i);
        lab.connect(i);
      }
    }

    lab.one(lab.randCmd(), servers, true);
    // Not in the lab: make sure the scenario did churn through leaders.
    lab.assert(leadersCrashed >= 10, `only ${leadersCrashed} leaders crashed`);
  });

  labTest("lab 2C - unreliable agreement", seeds, { servers: 5, unreliable: true }, (lab) => {
    const servers = 5;
    const clients = [];
    for (let iters = 1; iters < 50; iters++) {
      for (let j = 0; j < 4; j++)
        clients.push(lab.go(lab.oneTask(String(100 * iters + j), 1, true)));
      lab.one(String(iters), 1, true);
    }

    lab.setUnreliable(false);
    lab.join(clients, 60_000);
    lab.one("100", servers, true);
  });

  labTest("lab 2C - Figure 8 (unreliable)", seeds, { servers: 5, unreliable: true }, (lab) => {
    const servers = 5;
    lab.one(String(lab.rand.int(10_000)), 1, true);

    let nup = servers;
    for (let iters = 0; iters < 1000; iters++) {
      if (iters === 200) lab.setLongReordering(true);
      let leader = -1;
      for (let i = 0; i < servers; i++) {
        const { ok } = lab.start(i, String(lab.rand.int(10_000)));
        if (ok && lab.isConnected(i)) leader = i;
      }

      if (lab.rand.int(1000) < 100) lab.sleep(lab.rand.int(RAFT_ELECTION_TIMEOUT / 2));
      else lab.sleep(lab.rand.int(13));

      if (leader !== -1 && lab.rand.int(1000) < RAFT_ELECTION_TIMEOUT / 2) {
        lab.disconnect(leader);
        nup--;
      }

      if (nup < 3) {
        const s = lab.rand.int(servers);
        if (!lab.isConnected(s)) {
          lab.connect(s);
          nup++;
        }
      }
    }

    for (let i = 0; i < servers; i++) if (!lab.isConnected(i)) lab.connect(i);

    lab.one(String(lab.rand.int(10_000)), servers, true);
  });

  labTest("lab 2C - reliable churn", seeds, { servers: 5 }, (lab) => internalChurn(lab, false));

  labTest("lab 2C - unreliable churn", seeds, { servers: 5, unreliable: true }, (lab) =>
    internalChurn(lab, true),
  );
});

function internalChurn(lab: Lab, unreliable: boolean): void {
  const servers = 5;
  let stop = false;

  // Concurrent clients: each proposes to every server and remembers what it saw committed.
  function* client(me: number): Task<string[]> {
    const values: string[] = [];
    while (!stop) {
      const x = lab.randCmd();
      let index = -1;
      let ok = false;
      for (let i = 0; i < servers; i++) {
        // Try them all, maybe one of them is a leader.
        const result = lab.start(i, x);
        if (result.ok) {
          ok = true;
          index = result.index;
        }
      }
      if (ok) {
        // Maybe the leader will commit our value, maybe not, but don't wait forever.
        for (const to of [10, 20, 50, 100, 200]) {
          const { count, cmd } = lab.nCommitted(index);
          if (count > 0) {
            if (cmd === x) values.push(x);
            break;
          }
          yield to;
        }
      } else {
        yield 79 + me * 17;
      }
    }
    return values;
  }

  const ncli = 3;
  const handles = Array.from({ length: ncli }, (_, me) => lab.go(client(me)));

  for (let iters = 0; iters < 20; iters++) {
    if (lab.rand.int(1000) < 200) lab.disconnect(lab.rand.int(servers));

    if (lab.rand.int(1000) < 500) {
      const i = lab.rand.int(servers);
      if (!lab.isUp(i)) lab.start1(i);
      lab.connect(i);
    }

    if (lab.rand.int(1000) < 200) {
      const i = lab.rand.int(servers);
      if (lab.isUp(i)) lab.crash1(i);
    }

    // Make crash/restart infrequent enough that the Raft peers can still make progress.
    lab.sleep((RAFT_ELECTION_TIMEOUT * 7) / 10);
  }

  lab.sleep(RAFT_ELECTION_TIMEOUT);
  if (unreliable) lab.setUnreliable(false);
  for (let i = 0; i < servers; i++) {
    if (!lab.isUp(i)) lab.start1(i);
    lab.connect(i);
  }

  stop = true;
  lab.join(handles, 10_000);
  const values = handles.flatMap((handle) => handle.value ?? []);

  lab.sleep(RAFT_ELECTION_TIMEOUT);

  const lastIndex = lab.one(lab.randCmd(), servers, true);

  const really = new Set<string>();
  for (let index = 1; index <= lastIndex; index++) {
    const v = lab.wait(index, servers, -1);
    // null: a leader's no-op (the lab has none); anything else must be a client's command.
    if (typeof v === "string") really.add(v);
    else lab.assert(v === null, `index ${index}: not a command`);
  }

  for (const v1 of values) lab.assert(really.has(v1), `didn't find a value (${v1})`);
}
