/**
 * npm run bench [-- <subcommand>] [options…]
 *
 * The entry of every bench: a subcommand (the first argument) picks one; without one it is the
 * KV bench (kv-bench.ts: stageraft vs etcd vs the bare echo server). What each measures and
 * how: ops/bench/README.md.
 */

type Bench = (argv: string[]) => Promise<number>;

/** Subcommands: `npm run bench -- <name> …`. One line each; the module loads only when named. */
const subcommands: Record<string, () => Promise<Bench>> = {
  vector: async () => (await import("./vector.js")).runVectorBench,
  api: async () => (await import("./api.js")).runApiBench,
  pools: async () => (await import("./pools.js")).runPoolsBench,
  wal: async () => (await import("./wal.js")).runWalBench,
  "kv-engine": async () => (await import("./kv-engine.js")).runKvEngineBench,
};

/** `--phases` naming only watch, txn, lease runs the API bench (= `bench -- api --phases …`). */
function onlyApiPhases(argv: readonly string[]): boolean {
  const at = argv.indexOf("--phases");
  if (at < 0) return false;
  const names = (argv[at + 1] ?? "").split(",").map((name) => name.trim());
  return names.every((name) => ["watch", "txn", "lease"].includes(name));
}

async function main(argv: string[]): Promise<number> {
  const pick = subcommands[argv[0] ?? ""];
  if (pick !== undefined) return (await pick())(argv.slice(1));
  if (onlyApiPhases(argv)) return (await subcommands.api!())(argv);
  const { runKvBench } = await import("./kv-bench.js");
  return runKvBench(argv);
}

process.exit(await main(process.argv.slice(2)));
