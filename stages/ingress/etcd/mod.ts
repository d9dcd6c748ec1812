// The etcd v3 gRPC door (CONTRACT §7, docs/etcd-compat.md): a second ingress beside /v1.
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import type { ConnectionTable } from "../../respond/connections.js";
import { memberId } from "./bytes.js";
import { authHandlers, clusterHandlers, maintenanceHandlers } from "./cluster.js";
import { EtcdDoor, type EtcdDoorOptions } from "./door.js";
import { kvHandlers } from "./kv.js";
import { leaseHandlers } from "./lease.js";
import type { SessionPorts } from "./session.js";
import { type SnapshotSource, snapshotHandler } from "./snapshot.js";
import { watchHandlers } from "./watch.js";

export { EtcdDoor } from "./door.js";
export type { SnapshotSource } from "./snapshot.js";

export interface EtcdDoorSetup extends EtcdDoorOptions {
  readonly name: string;
  readonly dataDir: string;
  /** The --initial-cluster list this node started with: cluster_id is derived from it. */
  readonly initialCluster: string;
  readonly maxScanLimit: number;
  /** Maintenance.Snapshot's source (src/: the snapshot store and its file format). */
  readonly snapshots: SnapshotSource;
  /** The local Raft term and applied index, for response headers. */
  readonly local: () => { term: number; appliedIndex: number };
}

export function createEtcdDoor(
  connections: ConnectionTable,
  ports: SessionPorts,
  setup: EtcdDoorSetup,
  log: Logger,
): EtcdDoor {
  const clusterId = createHash("sha256")
    .update(setup.initialCluster)
    .digest()
    .readBigUInt64BE(0)
    .toString();
  const member = memberId(setup.name);
  const header = (revision: unknown) => ({
    cluster_id: clusterId,
    member_id: member,
    revision: revision ?? 0,
    raft_term: setup.local().term,
  });
  const context = {
    header,
    self: setup.name,
    etcdAddress: () => `${setup.host}:${door.port}`,
    dataDir: setup.dataDir,
    appliedIndex: () => setup.local().appliedIndex,
  };
  const door = new EtcdDoor(
    connections,
    ports,
    setup,
    {
      KV: kvHandlers({ maxScanLimit: setup.maxScanLimit, header }),
      Cluster: clusterHandlers(context),
      Maintenance: {
        ...maintenanceHandlers(context),
        Snapshot: { serverStream: snapshotHandler(header, setup.snapshots) },
      },
      Auth: authHandlers(),
      Watch: watchHandlers(header, context.appliedIndex),
      Lease: leaseHandlers(header, context.appliedIndex),
    },
    log,
  );
  return door;
}
