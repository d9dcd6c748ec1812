/** Lab 2B (log replication) of the MIT 6.824 / 6.5840 Raft lab, on remu. */
import { describe } from "vitest";
import { type Cmd, type Lab, MOVED_ON, RAFT_ELECTION_TIMEOUT } from "./lab-harness.js";
import { labTest } from "./lab-test.js";

const seeds = [1, 2, 3];

/** A random string of `n` characters (the lab's randstring). */
function randString(lab: Lab, n: number): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  let out = "";
  for (let k = 0; k < n; k++) out += alphabet[lab.rand.int(alphabet.length)];
  return out;
}

describe("lab 2B", () => {
  labTest("lab 2B - basic agreement", seeds, { servers: 3 }, (lab) => {
    const servers = 3;
    lab.checkOneLeader();
    const term = lab.checkTerms();
    // The leader's no-op takes index 1, so command k lands at k + 1 (the lab: at k) as long as
    // the term does not change, which it must not on a reliable network.
    const iters = 3;
    for (let index = 1; index < iters + 1; index++) {
      const expected = index + 1;
      const { count } = lab.nCommitted(expected);
      lab.assert(count === 0, `some have committed index ${expected} before Start()`);
      const xindex = lab.one(String(index * 100), servers, false);
      lab.assert(xindex === expected, `got index ${xindex} but expected ${expected}`);
    }
    lab.assert(lab.checkTerms() === term, `the term changed from ${term} on a reliable network`);
    const first = lab.nCommitted(1);
    lab.assert(first.count === servers && first.cmd === null, "index 1 is not the leader's no-op");
  });

  labTest("lab 2B - RPC byte count", seeds, { servers: 3 }, (lab) => {
    const servers = 3;
    lab.one("99", servers, false);
    const bytes0 = lab.bytesTotal();
    const iters = 10;
    let sent = 0;
    let previous = -1;
    for (let index = 2; index < iters + 2; index++) {
      const cmd = randString(lab, 5000);
      const xindex = lab.one(cmd, servers, false);
      lab.assert(
        previous === -1 || xindex === previous + 1,
        `got index ${xindex} but expected ${previous + 1}`,
      );
      previous = xindex;
      sent += cmd.length;
    }
    const got = lab.bytesTotal() - bytes0;
    const expected = servers * sent;
    lab.assert(got <= expected + 50_000, `too many RPC bytes; got ${got}, expected ${expected}`);
    // Each follower must have received every command at least once.
    lab.assert(got >= (servers - 1) * sent, `too few RPC bytes; got ${got}, sent ${sent}`);
  });

  labTest("lab 2B - follower failure", seeds, { servers: 3 }, (lab) => {
    const servers = 3;
    lab.one("101", servers, false);

    // Disconnect one follower from the network.
    const leader1 = lab.checkOneLeader();
    lab.disconnect((leader1 + 1) % servers);

    // The leader and remaining follower should be able to agree despite the disconnected one.
    lab.one("102", servers - 1, false);
    lab.sleep(RAFT_ELECTION_TIMEOUT);
    const index103 = lab.one("103", servers - 1, false);

    // Disconnect the remaining follower.
    const leader2 = lab.checkOneLeader();
    lab.disconnect((leader2 + 1) % servers);
    lab.disconnect((leader2 + 2) % servers);

    // Submit a command.
    const { index, ok } = lab.start(leader2, "104");
    lab.assert(ok, "leader rejected Start()");
    lab.assert(index === index103 + 1, `expected index ${index103 + 1}, got ${index}`);

    lab.sleep(2 * RAFT_ELECTION_TIMEOUT);

    // Check that command 104 did not commit.
    const { count } = lab.nCommitted(index);
    lab.assert(count === 0, `${count} committed but no majority`);
  });

  labTest("lab 2B - leader failure", seeds, { servers: 3 }, (lab) => {
    const servers = 3;
    lab.one("101", servers, false);

    // Disconnect the first leader.
    const leader1 = lab.checkOneLeader();
    lab.disconnect(leader1);

    // The remaining followers should elect a new leader.
    lab.one("102", servers - 1, false);
    lab.sleep(RAFT_ELECTION_TIMEOUT);
    const index103 = lab.one("103", servers - 1, false);

    // Disconnect the new leader.
    const leader2 = lab.checkOneLeader();
    lab.disconnect(leader2);
    lab.disconnect((leader2 + 1) % servers);

    // Submit a command to each server.
    const indices = [index103 + 1];
    for (let i = 0; i < servers; i++) {
      const { index, ok } = lab.start(i, "104");
      if (ok) indices.push(index);
    }

    lab.sleep(2 * RAFT_ELECTION_TIMEOUT);

    // Check that command 104 did not commit.
    for (const index of indices) {
      const { count } = lab.nCommitted(index);
      lab.assert(count === 0, `${count} committed index ${index} but no majority`);
    }
  });

  labTest("lab 2B - fail-agree", seeds, { servers: 3 }, (lab) => {
    const servers = 3;
    lab.one("101", servers, false);

    // Disconnect one follower from the network.
    const leader = lab.checkOneLeader();
    lab.disconnect((leader + 1) % servers);

    // The leader and remaining follower should be able to agree despite the disconnected one.
    lab.one("102", servers - 1, false);
    lab.one("103", servers - 1, false);
    lab.sleep(RAFT_ELECTION_TIMEOUT);
    lab.one("104", servers - 1, false);
    lab.one("105", servers - 1, false);

    // Re-connect.
    lab.connect((leader + 1) % servers);

    // The full set of servers should preserve previous agreements, and be able to agree on
    // new commands.
    lab.one("106", servers, true);
    lab.sleep(RAFT_ELECTION_TIMEOUT);
    lab.one("107", servers, true);
  });

  labTest("lab 2B - fail-no-agree", seeds, { servers: 5 }, (lab) => {
    const servers = 5;
    const index10 = lab.one("10", servers, false);

    // 3 of 5 followers disconnect.
    const leader = lab.checkOneLeader();
    lab.disconnect((leader + 1) % servers);
    lab.disconnect((leader + 2) % servers);
    lab.disconnect((leader + 3) % servers);

    const { index, ok } = lab.start(leader, "20");
    lab.assert(ok, "leader rejected Start()");
    lab.assert(index === index10 + 1, `expected index ${index10 + 1}, got ${index}`);

    lab.sleep(2 * RAFT_ELECTION_TIMEOUT);

    const { count } = lab.nCommitted(index);
    lab.assert(count === 0, `${count} committed but no majority`);

    // Repair.
    lab.connect((leader + 1) % servers);
    lab.connect((leader + 2) % servers);
    lab.connect((leader + 3) % servers);

    // The disconnected majority may have chosen a leader from among their own ranks, forgetting
    // index 2.
    const leader2 = lab.checkOneLeader();
    const second = lab.start(leader2, "30");
    lab.assert(second.ok, "leader2 rejected Start()");
    // The lab allows index 2 or 3 (whether "20" survived); the new leader's no-op shifts both by
    // one: index10 + 2 if "20" was dropped, index10 + 3 if it survived.
    lab.assert(
      second.index >= index10 + 2 && second.index <= index10 + 3,
      `unexpected index ${second.index} (index of "10" is ${index10})`,
    );

    lab.one("1000", servers, true);
  });

  labTest("lab 2B - concurrent starts", seeds, { servers: 3 }, (lab) => {
    const servers = 3;
    let success = false;
    loop: for (let attempt = 0; attempt < 5; attempt++) {
      if (attempt > 0) lab.sleep(3000); // give the solution some time to settle
      const leader = lab.checkOneLeader();
      const first = lab.start(leader, "1");
      if (!first.ok) continue; // the leader moved on really quickly
      const term = first.term;

      // Five "goroutines" call Start() at the same virtual instant.
      const iters = 5;
      const indices: number[] = [];
      for (let ii = 0; ii < iters; ii++) {
        const result = lab.start(leader, String(100 + ii));
        if (!result.ok || result.term !== term) continue;
        indices.push(result.index);
      }

      for (let j = 0; j < servers; j++) {
        const state = lab.getState(j);
        if (state !== null && state.term !== term) continue loop; // the term changed
      }

      const cmds: Cmd[] = [];
      for (const index of indices) {
        const cmd = lab.wait(index, servers, term);
        if (cmd === MOVED_ON) continue loop; // peers have moved on to later terms
        cmds.push(cmd);
      }
      for (let ii = 0; ii < iters; ii++) {
        const x = String(100 + ii);
        lab.assert(cmds.includes(x), `cmd ${x} missing in ${JSON.stringify(cmds)}`);
      }
      success = true;
      break;
    }
    lab.assert(success, "term changed too often");
  });

  labTest("lab 2B - rejoin of a partitioned leader", seeds, { servers: 3 }, (lab) => {
    const servers = 3;
    lab.one("101", servers, true);

    // Leader network failure.
    const leader1 = lab.checkOneLeader();
    lab.disconnect(leader1);

    // Make the old leader try to agree on some entries.
    const stale = ["102", "103", "104"].map((cmd) => ({ cmd, ...lab.start(leader1, cmd) }));

    // The new leader commits, also for index 2.
    lab.one("103", 2, true);

    // New leader network failure.
    const leader2 = lab.checkOneLeader();
    lab.disconnect(leader2);

    // The old leader connected again.
    lab.connect(leader1);
    lab.one("104", 2, true);

    // All together now.
    lab.connect(leader2);
    lab.one("105", servers, true);

    // Not in the lab: what the partitioned old leader appended was never committed (the new
    // leader's "103" and "104" are other entries, of later terms).
    for (const { cmd, index, term, ok } of stale) {
      lab.assert(ok, `the old leader rejected Start(${cmd})`);
      const committed = lab.cluster.checker.committedAt(index);
      lab.assert(committed?.term !== term, `stale ${cmd} (term ${term}) committed at ${index}`);
    }
  });

  labTest("lab 2B - backup", seeds, { servers: 5 }, (lab) => {
    const servers = 5;
    lab.one(lab.randCmd(), servers, true);

    // Put the leader and one follower in a partition.
    const leader1 = lab.checkOneLeader();
    lab.disconnect((leader1 + 2) % servers);
    lab.disconnect((leader1 + 3) % servers);
    lab.disconnect((leader1 + 4) % servers);

    // Submit lots of commands that won't commit.
    const uncommitted: { cmd: string; index: number; term: number }[] = [];
    for (let i = 0; i < 50; i++) {
      const cmd = lab.randCmd();
      const result = lab.start(leader1, cmd);
      lab.assert(result.ok, "leader1 rejected Start()");
      uncommitted.push({ cmd, index: result.index, term: result.term });
    }

    lab.sleep(RAFT_ELECTION_TIMEOUT / 2);

    lab.disconnect((leader1 + 0) % servers);
    lab.disconnect((leader1 + 1) % servers);

    // Allow the other partition to recover.
    lab.connect((leader1 + 2) % servers);
    lab.connect((leader1 + 3) % servers);
    lab.connect((leader1 + 4) % servers);

    // Lots of successful commands to the new group.
    for (let i = 0; i < 50; i++) lab.one(lab.randCmd(), 3, true);

    // Now another partitioned leader and one follower.
    const leader2 = lab.checkOneLeader();
    let other = (leader1 + 2) % servers;
    if (leader2 === other) other = (leader2 + 1) % servers;
    lab.disconnect(other);

    // Lots more commands that won't commit.
    for (let i = 0; i < 50; i++) {
      const cmd = lab.randCmd();
      const result = lab.start(leader2, cmd);
      lab.assert(result.ok, "leader2 rejected Start()");
      uncommitted.push({ cmd, index: result.index, term: result.term });
    }

    lab.sleep(RAFT_ELECTION_TIMEOUT / 2);

    // Bring the original leader back to life.
    for (let i = 0; i < servers; i++) lab.disconnect(i);
    lab.connect((leader1 + 0) % servers);
    lab.connect((leader1 + 1) % servers);
    lab.connect(other);

    // Lots of successful commands to the new group.
    for (let i = 0; i < 50; i++) lab.one(lab.randCmd(), 3, true);

    // Now everyone.
    for (let i = 0; i < servers; i++) lab.connect(i);
    lab.one(lab.randCmd(), servers, true);

    // Not in the lab: the 100 commands given to minority leaders were all overwritten.
    for (const { cmd, index, term } of uncommitted) {
      const { count } = lab.nCommitted(index);
      lab.assert(count === servers, `index ${index} is applied on ${count} servers only`);
      const committed = lab.cluster.checker.committedAt(index);
      lab.assert(committed?.term !== term, `${cmd}, given to a minority leader, committed`);
    }
  });

  labTest("lab 2B - RPC counts aren't too high", seeds, { servers: 3 }, (lab) => {
    const servers = 3;
    lab.checkOneLeader();
    let total1 = lab.rpcTotal();
    // Lab bound: 30 RPCs to elect the first leader (checkOneLeader also sleeps ~500 ms, so it
    // includes the first heartbeats). Pre-vote adds one round, which still fits.
    lab.assert(
      total1 <= 30 && total1 >= 1,
      `too many or few RPCs (${total1}) to elect initial leader`,
    );

    let total2 = 0;
    let success = false;
    loop: for (let attempt = 0; attempt < 5; attempt++) {
      if (attempt > 0) lab.sleep(3000); // give the solution some time to settle
      const leader = lab.checkOneLeader();
      total1 = lab.rpcTotal();

      const iters = 10;
      const first = lab.start(leader, "1");
      if (!first.ok) continue; // the leader moved on really quickly
      const { index: starti, term } = first;
      const cmds: string[] = [];
      for (let i = 1; i < iters + 2; i++) {
        const x = lab.randCmd();
        cmds.push(x);
        const result = lab.start(leader, x);
        if (result.term !== term) continue loop; // the term changed while we were starting
        if (!result.ok) continue loop; // no longer the leader, so the term has changed
        lab.assert(starti + i === result.index, `Start() failed: index ${result.index}`);
      }

      for (let i = 1; i < iters + 1; i++) {
        const cmd = lab.wait(starti + i, servers, term);
        if (cmd === MOVED_ON) continue loop; // the term changed
        lab.assert(cmd === cmds[i - 1], `wrong value ${cmd} committed for index ${starti + i}`);
      }

      total2 = 0;
      for (let j = 0; j < servers; j++) {
        if (lab.getState(j)?.term !== term) continue loop; // the term changed
      }
      total2 = lab.rpcTotal();
      // Lab bound: (iters + 1 + 3) * 3 RPCs for iters + 1 entries.
      lab.assert(
        total2 - total1 <= (iters + 1 + 3) * 3,
        `too many RPCs (${total2 - total1}) for ${iters} entries`,
      );
      success = true;
      break;
    }
    lab.assert(success, "term changed too often");

    lab.sleep(RAFT_ELECTION_TIMEOUT);
    const total3 = lab.rpcTotal();
    // Lab bound: 3 * 20 RPCs for one second of idleness.
    lab.assert(
      total3 - total2 <= 3 * 20,
      `too many RPCs (${total3 - total2}) for 1 second of idleness`,
    );
  });
});
