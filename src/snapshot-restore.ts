import { createReadStream, createWriteStream } from "node:fs";
import { open, readdir } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { SnapshotMeta } from "../raft/mod.js";
import { MemberDirectory } from "../stages/raft-step/mod.js";
import { SnapshotStore } from "../storage/snapshot-store.js";
import { parseInitialCluster } from "./config.js";
import { checkSnapshotFile, SnapshotFileError } from "./snapshot-file.js";

export interface RestoreOptions {
  readonly name: string;
  readonly dataDir: string;
  /** The new cluster: name=host:port,… (peer addresses), the same for every member. */
  readonly initialCluster: string;
}

/**
 * Make `dataDir` the data dir of one member of a NEW cluster whose state is a saved snapshot
 * (etcdutl snapshot restore's way): the snapshot goes in as the node's latest, with the new
 * cluster's members as its configuration and term 1, and an empty WAL. Every member is
 * restored from the same file with the same --initial-cluster, then started with `serve`
 * (no --initial-cluster-state needed: the data dir has a state). The old cluster's members,
 * terms and leases of leadership are left behind; the data, the history chain and the
 * exactly-once sessions come along.
 */
export async function restoreSnapshot(
  file: string,
  options: RestoreOptions,
): Promise<SnapshotMeta> {
  const { meta, archiveOffset } = await checkSnapshotFile(file);
  let members: Map<string, string>;
  try {
    members = parseInitialCluster(options.initialCluster);
  } catch (error) {
    throw new SnapshotFileError(`--initial-cluster: ${(error as Error).message}`);
  }
  if (!members.has(options.name))
    throw new SnapshotFileError(`--name ${options.name} is not in --initial-cluster`);
  const existing = await readdir(options.dataDir).catch(() => []);
  if (existing.length > 0)
    throw new SnapshotFileError(`${options.dataDir} is not empty: restore into a new data dir`);
  const store = new SnapshotStore(join(options.dataDir, "snap"));
  await store.open();
  await pipeline(
    // The archive only: a file saved by etcdctl ends in etcd's sha256 trailer after it.
    createReadStream(file, { start: archiveOffset, end: archiveOffset + meta.size - 1 }),
    createWriteStream(store.tempPath()),
  );
  const handle = await open(store.tempPath(), "r+");
  await handle.sync();
  await handle.close();
  const restored: SnapshotMeta = {
    ...meta,
    // A new cluster's history of terms starts over; every member gets the same snapshot.
    term: 1,
    config: { voters: [...members.keys()], outgoing: [], learners: [] },
    configContext: new MemberDirectory(members).context(),
  };
  await store.commit(restored);
  return restored;
}
