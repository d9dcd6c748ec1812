/** Lab 2A (leader election) of the MIT 6.824 / 6.5840 Raft lab, on remu. */
import { describe } from "vitest";
import { RAFT_ELECTION_TIMEOUT } from "./lab-harness.js";
import { labTest } from "./lab-test.js";

const seeds = [1, 2, 3];

describe("lab 2A", () => {
  labTest("lab 2A - initial election", seeds, { servers: 3 }, (lab) => {
    // Is a leader elected?
    lab.checkOneLeader();

    // Sleep a bit to avoid racing with followers learning of the election, then check that all
    // peers agree on the term.
    lab.sleep(50);
    const term1 = lab.checkTerms();
    lab.assert(term1 >= 1, `term is ${term1}, but should be at least 1`);

    // Does the leader+term stay the same if there is no network failure? (The lab only warns;
    // on a reliable network with pre-vote and check-quorum nothing may disturb the leader.)
    lab.sleep(2 * RAFT_ELECTION_TIMEOUT);
    const term2 = lab.checkTerms();
    lab.assert(term1 === term2, `term changed from ${term1} to ${term2} without any failure`);

    // There should still be a leader.
    lab.checkOneLeader();
  });

  labTest("lab 2A - re-election", seeds, { servers: 3 }, (lab) => {
    const servers = 3;
    const leader1 = lab.checkOneLeader();

    // If the leader disconnects, a new one should be elected.
    lab.disconnect(leader1);
    lab.checkOneLeader();

    // If the old leader rejoins, that shouldn't disturb the new leader.
    lab.connect(leader1);
    const leader2 = lab.checkOneLeader();

    // If there's no quorum, no new leader should be elected.
    lab.disconnect(leader2);
    lab.disconnect((leader2 + 1) % servers);
    lab.sleep(2 * RAFT_ELECTION_TIMEOUT);

    // Check that the one connected server does not think it is the leader.
    lab.checkNoLeader();

    // If a quorum arises, it should elect a leader.
    lab.connect((leader2 + 1) % servers);
    lab.checkOneLeader();

    // Re-join of the last node shouldn't prevent leader from existing.
    lab.connect(leader2);
    lab.checkOneLeader();
  });

  labTest("lab 2A - many elections", seeds, { servers: 7 }, (lab) => {
    const servers = 7;
    lab.checkOneLeader();
    const iters = 10;
    for (let ii = 1; ii < iters; ii++) {
      // Disconnect three nodes (possibly the same one twice).
      const i1 = lab.rand.int(servers);
      const i2 = lab.rand.int(servers);
      const i3 = lab.rand.int(servers);
      lab.disconnect(i1);
      lab.disconnect(i2);
      lab.disconnect(i3);

      // Either the current leader should still be alive, or the remaining four should elect a
      // new one.
      lab.checkOneLeader();

      lab.connect(i1);
      lab.connect(i2);
      lab.connect(i3);
    }
    lab.checkOneLeader();
  });
});
