/**
 * Lab 2D (log compaction) of the MIT 6.824 / 6.5840 Raft lab, on remu. The service snapshots
 * every SNAPSHOT_INTERVAL applied entries (ClusterOptions.snapshotEvery), as the lab's
 * applierSnap does; a follower that fell behind the leader's snapshot gets InstallSnapshot.
 */
import { describe } from "vitest";
import { type Lab, MAX_LOG_SIZE, SNAPSHOT_INTERVAL } from "./lab-harness.js";
import { labTest } from "./lab-test.js";

const seeds = [1, 2, 3];

interface SnapOptions {
  readonly disconnect: boolean;
  readonly crash: boolean;
  /** Not in the lab: demand that some follower caught up by InstallSnapshot. */
  readonly expectInstall: boolean;
}

function snapcommon(lab: Lab, { disconnect, crash, expectInstall }: SnapOptions): void {
  const iters = 30;
  const servers = 3;

  lab.one(lab.randCmd(), servers, true);
  let leader1 = lab.checkOneLeader();

  for (let i = 0; i < iters; i++) {
    let victim = (leader1 + 1) % servers;
    let sender = leader1;
    if (i % 3 === 1) {
      sender = (leader1 + 1) % servers;
      victim = leader1;
    }

    if (disconnect) {
      lab.disconnect(victim);
      lab.one(lab.randCmd(), servers - 1, true);
    }
    if (crash) {
      lab.crash1(victim);
      lab.one(lab.randCmd(), servers - 1, true);
    }

    // Perhaps send enough to get a snapshot.
    const nn = SNAPSHOT_INTERVAL / 2 + lab.rand.int(SNAPSHOT_INTERVAL);
    for (let k = 0; k < nn; k++) lab.start(sender, lab.randCmd());

    // Let applier threads catch up with the Start()'s.
    if (!disconnect && !crash) {
      // Make sure all followers have caught up, so that an InstallSnapshot RPC isn't required
      // for "snapshots basic".
      lab.one(lab.randCmd(), servers, true);
    } else {
      lab.one(lab.randCmd(), servers - 1, true);
    }

    const size = lab.logSize();
    lab.assert(size < MAX_LOG_SIZE, `log size too large (${size} bytes)`);
    if (disconnect) {
      // Reconnect a follower, who maybe behind and needs to receive a snapshot to catch up.
      lab.connect(victim);
      lab.one(lab.randCmd(), servers, true);
      leader1 = lab.checkOneLeader();
    }
    if (crash) {
      lab.start1(victim);
      lab.connect(victim);
      lab.one(lab.randCmd(), servers, true);
      leader1 = lab.checkOneLeader();
    }
  }

  const { snapshots, snapshotsInstalled } = lab.cluster.stats;
  lab.assert(snapshots > 0, "no snapshot was taken");
  if (expectInstall) lab.assert(snapshotsInstalled > 0, "no follower installed a snapshot");
}

describe("lab 2D", () => {
  labTest("lab 2D - snapshots basic", seeds, { servers: 3, snapshot: true }, (lab) =>
    snapcommon(lab, { disconnect: false, crash: false, expectInstall: false }),
  );

  labTest("lab 2D - install snapshots (disconnect)", seeds, { servers: 3, snapshot: true }, (lab) =>
    snapcommon(lab, { disconnect: true, crash: false, expectInstall: true }),
  );

  labTest(
    "lab 2D - install snapshots (disconnect+unreliable)",
    seeds,
    { servers: 3, snapshot: true, unreliable: true },
    (lab) => snapcommon(lab, { disconnect: true, crash: false, expectInstall: true }),
  );

  labTest("lab 2D - install snapshots (crash)", seeds, { servers: 3, snapshot: true }, (lab) =>
    snapcommon(lab, { disconnect: false, crash: true, expectInstall: true }),
  );

  labTest(
    "lab 2D - install snapshots (unreliable+crash)",
    seeds,
    { servers: 3, snapshot: true, unreliable: true },
    (lab) => snapcommon(lab, { disconnect: false, crash: true, expectInstall: true }),
  );

  // Do the servers persist the snapshots, and restart using snapshot along with the tail of
  // the log?
  labTest(
    "lab 2D - crash and restart all servers",
    seeds,
    { servers: 3, snapshot: true },
    (lab) => {
      const servers = 3;
      const iters = 5;
      lab.one(lab.randCmd(), servers, true);

      for (let i = 0; i < iters; i++) {
        // Perhaps enough to get a snapshot.
        const nn = SNAPSHOT_INTERVAL / 2 + lab.rand.int(SNAPSHOT_INTERVAL);
        for (let k = 0; k < nn; k++) lab.one(lab.randCmd(), servers, true);

        const index1 = lab.one(lab.randCmd(), servers, true);

        // Crash all.
        for (let k = 0; k < servers; k++) lab.crash1(k);

        // Revive all.
        for (let k = 0; k < servers; k++) {
          lab.start1(k);
          lab.connect(k);
        }

        const index2 = lab.one(lab.randCmd(), servers, true);
        lab.assert(index2 >= index1 + 1, `index decreased from ${index1} to ${index2}`);
      }
      lab.assert(lab.cluster.stats.snapshots > 0, "no snapshot was taken");
    },
  );

  // Do servers correctly initialize their in-memory copy of the snapshot, making sure that
  // future writes to persistent state don't lose state?
  labTest(
    "lab 2D - snapshot initialization after crash",
    seeds,
    { servers: 3, snapshot: true },
    (lab) => {
      const servers = 3;
      lab.one(lab.randCmd(), servers, true);

      // Enough ops to make a snapshot.
      const nn = SNAPSHOT_INTERVAL + 1;
      for (let i = 0; i < nn; i++) lab.one(lab.randCmd(), servers, true);

      // Crash all.
      for (let i = 0; i < servers; i++) lab.crash1(i);

      // Revive all.
      for (let i = 0; i < servers; i++) {
        lab.start1(i);
        lab.connect(i);
      }

      // A single op, to get something to be written back to persistent storage.
      lab.one(lab.randCmd(), servers, true);

      // Crash all.
      for (let i = 0; i < servers; i++) lab.crash1(i);

      // Revive all.
      for (let i = 0; i < servers; i++) {
        lab.start1(i);
        lab.connect(i);
      }

      // Do another op to trigger potential bug.
      lab.one(lab.randCmd(), servers, true);
      lab.assert(lab.cluster.stats.snapshots > 0, "no snapshot was taken");
    },
  );
});
