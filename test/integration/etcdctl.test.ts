import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkSnapshotFile } from "../../src/snapshot-file.js";
import { restoreSnapshot } from "../../src/snapshot-restore.js";
import { SnapshotStore } from "../../storage/snapshot-store.js";
import { EtcdCluster } from "./etcd-harness.js";
import { freePort, sleep } from "./harness.js";

/**
 * Debian's etcdctl (v3 API) driven by one script against stageraft's etcd door, and — where
 * etcd-server is installed — against a real etcd 3.4 too, the outputs compared.
 */

const execFileAsync = promisify(execFile);
const ETCDCTL = ["/usr/bin/etcdctl", "/usr/local/bin/etcdctl"].find((p) => existsSync(p));
const ETCD = ["/usr/bin/etcd", "/usr/local/bin/etcd"].find((p) => existsSync(p));

if (ETCDCTL === undefined)
  console.warn("etcdctl tests skipped: etcdctl is not installed (apt-get install etcd-client)");
if (ETCDCTL !== undefined && ETCD === undefined)
  console.warn("etcd comparison skipped: etcd is not installed (apt-get install etcd-server)");

async function etcdctl(endpoint: string, args: string[], input?: string): Promise<string> {
  const run = execFileAsync(
    ETCDCTL!,
    ["--endpoints", endpoint, "--dial-timeout", "5s", "--command-timeout", "15s", ...args],
    { env: { ...process.env, ETCDCTL_API: "3" }, timeout: 30_000 },
  );
  if (input !== undefined) {
    run.child.stdin?.end(input);
  }
  const { stdout } = await run;
  return stdout.trim();
}

/** The same script on any endpoint: what etcdctl printed, ids and revisions made comparable. */
async function script(endpoint: string, dir: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  out.put = await etcdctl(endpoint, ["put", "foo", "bar"]);
  await etcdctl(endpoint, ["put", "foo/a", "1"]);
  await etcdctl(endpoint, ["put", "foo/b", "2"]);
  out.getPrefix = await etcdctl(endpoint, ["get", "foo", "--prefix"]);
  const json = JSON.parse(await etcdctl(endpoint, ["get", "foo/a", "-w", "json"]));
  out.getJson = {
    headerFields: Object.keys(json.header).sort(),
    kvs: json.kvs.map((kv: Record<string, unknown>) => ({
      key: kv.key,
      value: kv.value,
      version: kv.version,
    })),
    count: json.count,
  };
  const rev = json.header.revision as number;
  await etcdctl(endpoint, ["put", "foo/a", "changed"]);
  out.getRev = await etcdctl(endpoint, ["get", "foo/a", `--rev=${rev}`]);
  out.keysOnly = await etcdctl(endpoint, ["get", "foo", "--prefix", "--keys-only"]);
  out.sorted = await etcdctl(endpoint, [
    "get",
    "foo",
    "--prefix",
    "--sort-by=MODIFY",
    "--order=DESCEND",
    "--keys-only",
  ]);
  out.limited = await etcdctl(endpoint, ["get", "foo", "--prefix", "--limit=2"]);
  out.fromKey = await etcdctl(endpoint, ["get", "foo/", "--from-key", "--keys-only"]);
  out.prevKv = await etcdctl(endpoint, ["put", "foo", "baz", "--prev-kv"]);
  out.delMissing = await etcdctl(endpoint, ["del", "nothing-here"]);
  out.delPrefix = await etcdctl(endpoint, ["del", "foo", "--prefix"]);
  const txn = 'value("x") = "1"\n\nput x yes\n\nput x no\n\n';
  out.txnFailure = await etcdctl(endpoint, ["txn"], txn);
  await etcdctl(endpoint, ["put", "x", "1"]);
  out.txnSuccess = await etcdctl(endpoint, ["txn"], txn);
  out.x = await etcdctl(endpoint, ["get", "x"]);
  const grant = await etcdctl(endpoint, ["lease", "grant", "60"]);
  out.grant = grant.replace(/lease [0-9a-f]+ granted/, "lease ID granted");
  const leaseId = /lease ([0-9a-f]+) granted/.exec(grant)![1]!;
  out.keepAlive = (await etcdctl(endpoint, ["lease", "keep-alive", "--once", leaseId])).replace(
    /[0-9a-f]{8,}/,
    "ID",
  );
  out.putLease = await etcdctl(endpoint, ["put", "leased", "v", `--lease=${leaseId}`]);
  out.ttlKeys = (await etcdctl(endpoint, ["lease", "timetolive", leaseId, "--keys"]))
    .replace(/[0-9a-f]{8,}/, "ID")
    .replace(/remaining\(\d+s\)/, "remaining(Ns)");
  out.revoke = (await etcdctl(endpoint, ["lease", "revoke", leaseId])).replace(
    /[0-9a-f]{8,}/,
    "ID",
  );
  out.leasedGone = await etcdctl(endpoint, ["get", "leased"]);
  const members = await etcdctl(endpoint, ["member", "list"]);
  out.memberColumns = members.split("\n").map((line) => line.split(", ").length);
  const status = JSON.parse(await etcdctl(endpoint, ["endpoint", "status", "-w", "json"]));
  out.statusFields = Object.keys(status[0].Status).sort();
  out.health = (await etcdctl(endpoint, ["endpoint", "health"])).replace(/took = .*/, "took = T");
  const now = JSON.parse(await etcdctl(endpoint, ["get", "x", "-w", "json"])).header.revision;
  out.compaction = (await etcdctl(endpoint, ["compaction", String(now)])).replace(/\d+/, "REV");
  out.compacted = await etcdctl(endpoint, ["get", "x", `--rev=${rev}`]).catch(
    (error: { stderr: string }) => error.stderr.trim().split("\n").pop(),
  );
  const file = join(dir, `snap-${await freePort()}.db`);
  out.snapshot = (await etcdctl(endpoint, ["snapshot", "save", file]))
    .split("\n")
    .filter((line) => line.startsWith("Snapshot saved"))
    .map((line) => line.replace(file, "FILE"));
  expect((await stat(file)).size).toBeGreaterThan(0);
  return out;
}

/** `etcdctl watch` until it printed `lines` lines; then stopped. */
async function watchLines(endpoint: string, args: string[], lines: number): Promise<string[]> {
  const child: ChildProcess = spawn(ETCDCTL!, ["--endpoints", endpoint, "watch", ...args], {
    env: { ...process.env, ETCDCTL_API: "3" },
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  try {
    const deadline = Date.now() + 15_000;
    while (output.trim().split("\n").filter(Boolean).length < lines) {
      if (Date.now() > deadline) throw new Error(`etcdctl watch printed only: ${output}`);
      await sleep(50);
    }
    return output.trim().split("\n");
  } finally {
    child.kill("SIGKILL");
  }
}

describe.skipIf(ETCDCTL === undefined)("etcdctl against stageraft's etcd door", () => {
  let cluster: EtcdCluster | null = null;
  let dir = "";
  let etcd: ChildProcess | null = null;
  let etcdEndpoint = "";

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "stageraft-etcdctl-"));
    cluster = await EtcdCluster.start();
    if (ETCD !== undefined) {
      const client = await freePort();
      const peer = await freePort();
      etcdEndpoint = `127.0.0.1:${client}`;
      etcd = spawn(
        ETCD,
        [
          "--name",
          "e1",
          "--data-dir",
          join(dir, "etcd"),
          "--listen-client-urls",
          `http://${etcdEndpoint}`,
          "--advertise-client-urls",
          `http://${etcdEndpoint}`,
          "--listen-peer-urls",
          `http://127.0.0.1:${peer}`,
          "--initial-advertise-peer-urls",
          `http://127.0.0.1:${peer}`,
          "--initial-cluster",
          `e1=http://127.0.0.1:${peer}`,
        ],
        { stdio: "ignore" },
      );
      const deadline = Date.now() + 20_000;
      for (;;) {
        const ok = await etcdctl(etcdEndpoint, ["endpoint", "health"]).then(
          () => true,
          () => false,
        );
        if (ok) break;
        if (Date.now() > deadline) throw new Error("etcd did not start");
        await sleep(200);
      }
    }
  }, 60_000);

  afterAll(async () => {
    etcd?.kill("SIGKILL");
    await cluster?.stop();
    if (dir !== "") await rm(dir, { recursive: true, force: true });
  });

  it("the script prints what etcd 3.4 prints", async () => {
    const ours = await script(cluster!.etcd.get("n1")!, dir);
    // What does not depend on etcd being there: checked on ours alone.
    expect(ours.put).toBe("OK");
    expect(ours.getPrefix).toBe("foo\nbar\nfoo/a\n1\nfoo/b\n2");
    expect(ours.getRev).toBe("foo/a\n1");
    expect(ours.sorted).toBe("foo/a\n\nfoo/b\n\nfoo"); // etcdctl prints a blank line after each key
    expect(ours.limited).toBe("foo\nbar\nfoo/a\nchanged");
    expect(ours.delMissing).toBe("0");
    expect(ours.delPrefix).toBe("3");
    expect(ours.txnFailure).toBe("FAILURE\n\nOK");
    expect(ours.txnSuccess).toBe("SUCCESS\n\nOK");
    expect(ours.x).toBe("x\nyes");
    expect(ours.leasedGone).toBe("");
    expect(ours.memberColumns).toEqual([6, 6, 6]);
    if (etcd === null) {
      console.warn("etcd comparison skipped: etcd is not installed");
      return;
    }
    const theirs = await script(etcdEndpoint, dir);
    const { memberColumns: _a, ...oursRest } = ours;
    const { memberColumns: _b, ...theirsRest } = theirs;
    expect(oursRest).toEqual(theirsRest);
  }, 120_000);

  it("watch --prefix from a revision, and move-leader", async () => {
    const endpoint = cluster!.etcd.get("n2")!;
    const first = JSON.parse(await etcdctl(endpoint, ["put", "w/a", "1", "-w", "json"]));
    await etcdctl(endpoint, ["put", "w/b", "2"]);
    const lines = await watchLines(
      endpoint,
      ["w/", "--prefix", `--rev=${first.header.revision}`],
      6,
    );
    expect(lines).toEqual(["PUT", "w/a", "1", "PUT", "w/b", "2"]);

    const members = (await etcdctl(endpoint, ["member", "list"])).split("\n");
    // uint64 ids pass 2^53: read them from the text, not through JSON.parse.
    const status = await etcdctl(endpoint, ["endpoint", "status", "-w", "json"]);
    const leader = BigInt(/"leader":(\d+)/.exec(status)![1]!).toString(16);
    const other = members.map((line) => line.split(", ")).find((cols) => cols[0] !== leader)!;
    const leaderAddress = cluster!.etcd.get(
      members.map((l) => l.split(", ")).find((cols) => cols[0] === leader)![2]!,
    )!;
    const moved = await etcdctl(leaderAddress, ["move-leader", other[0]!]);
    expect(moved).toMatch(/Leadership transferred from [0-9a-f]+ to [0-9a-f]+/);

    // A snapshot etcdctl saved (and checked) is one `stageraft snapshot restore` reads.
    const file = join(dir, "restorable.db");
    await etcdctl(endpoint, ["snapshot", "save", file]);
    const { meta } = await checkSnapshotFile(file);
    expect(meta.index).toBeGreaterThanOrEqual(Number(first.header.revision));
    const restoredDir = join(dir, "restored");
    const restored = await restoreSnapshot(file, {
      name: "r1",
      dataDir: restoredDir,
      initialCluster: "r1=127.0.0.1:1",
    });
    // The archive alone was restored (not etcd's trailer after it).
    const archive = new SnapshotStore(join(restoredDir, "snap"));
    await archive.open();
    expect((await stat(archive.dataPath(restored.index))).size).toBe(meta.size);
  }, 60_000);
});

describe.skipIf(ETCDCTL === undefined)(
  "etcdctl member add/promote/remove against stageraft",
  () => {
    let etcd: EtcdCluster | null = null;

    afterAll(async () => {
      await etcd?.stop();
    });

    it("member add --learner of a started node, promote once it caught up, remove", async () => {
      etcd = await EtcdCluster.start();
      const endpoint = etcd.etcd.get("n1")!;
      const n4 = await etcd.join("n4");
      const added = await etcdctl(endpoint, [
        "member",
        "add",
        "n4",
        `--peer-urls=http://n4@${n4.peer}`,
        "--learner",
      ]);
      expect(added).toMatch(/^Member [0-9a-f]+ added to cluster [0-9a-f]+/);
      expect(added).toContain('ETCD_NAME="n4"');
      const id = /^Member ([0-9a-f]+) added/.exec(added)![1]!;
      const row = async () =>
        (await etcdctl(endpoint, ["member", "list"]))
          .split("\n")
          .map((line) => line.split(", "))
          .find((cols) => cols[0] === id);
      // ID, status, name, peer URLs, client URLs, is learner
      expect((await row())?.slice(2, 4)).toEqual(["n4", `http://${n4.peer}`]);
      expect((await row())?.[5]).toBe("true");
      // Promoted once it has caught up (before that etcd's "in sync" refusal: retried).
      await expect
        .poll(
          () =>
            etcdctl(endpoint, ["member", "promote", id]).catch(
              (error: { stderr: string }) => error.stderr,
            ),
          { timeout: 20_000, interval: 500 },
        )
        .toMatch(/Member [0-9a-f]+ promoted in cluster [0-9a-f]+/);
      expect((await row())?.[5]).toBe("false");
      expect((await row())?.[4]).toBe(`ws://${n4.client}/v1`);
      const removed = await etcdctl(endpoint, ["member", "remove", id]);
      expect(removed).toMatch(/Member [0-9a-f]+ removed from cluster [0-9a-f]+/);
      expect(await row()).toBeUndefined();
    }, 90_000);
  },
);
