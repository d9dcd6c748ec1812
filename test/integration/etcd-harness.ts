import { Etcd3 } from "etcd3";
import { freePort, TestCluster } from "./harness.js";

/** A cluster whose nodes also serve etcd's v3 API (--listen-etcd), and etcd3 clients of it. */
export class EtcdCluster {
  readonly clients: Etcd3[] = [];

  private constructor(
    readonly cluster: TestCluster,
    /** Each node's --listen-etcd address by name. */
    readonly etcd: Map<string, string>,
  ) {}

  static async start(config: Record<string, unknown> = {}): Promise<EtcdCluster> {
    const etcd = new Map<string, string>();
    const cluster = await TestCluster.start(3, config, async (c) => {
      for (const node of c.nodes) etcd.set(node.name, `127.0.0.1:${await freePort()}`);
      c.nodeArgs = (node) => ["--listen-etcd", etcd.get(node.name)!];
    });
    return new EtcdCluster(cluster, etcd);
  }

  connect(name: string): Etcd3 {
    const client = new Etcd3({
      hosts: `http://${this.etcd.get(name)}`,
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + 10_000 }),
    });
    this.clients.push(client);
    return client;
  }

  /** A new node (with its etcd door) that joins the running cluster; added by the caller. */
  async join(name: string): Promise<{ peer: string; client: string }> {
    this.etcd.set(name, `127.0.0.1:${await freePort()}`);
    return this.cluster.join(name);
  }

  async stop(): Promise<void> {
    for (const client of this.clients.splice(0)) client.close();
    await this.cluster.stop();
  }
}
