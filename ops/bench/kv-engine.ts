import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import type { KvCommand, KvEngine } from "../../storage/engines/engine.js";
import { integer } from "./report.js";
import { xorshift } from "./xorshift.js";

/**
 * The KV engine's write path in process, without Raft, WAL or sockets: batches of 128 puts
 * (16-byte keys over 10,000 keys, 256-byte values) applied as the apply stage applies them,
 * at the default history settings. `--base DIR` runs another build's engines (DIR holds its
 * dist/, e.g. `git archive <commit> | tar -x -C DIR` then tsc) in the same process, side
 * by side, alternating each round. CPU is the process's (LevelDB's threads included).
 *
 *   npm run bench -- kv-engine [--base DIR] [--rounds 3] [--puts 120000] [--warmup 20000]
 *                              [--backends level,memory] [--only this|base]
 */

const BATCH = 128;
const KEYS = 10_000;
const VALUE_BYTES = 256;

type Backend = "level" | "memory";

interface Build {
  readonly name: string;
  /** The dist/ root the engine modules are loaded from. */
  readonly dist: string;
}

interface Measured {
  readonly putsPerSecond: number;
  readonly cpuMicrosPerPut: number;
  readonly checkpointMs: number;
  readonly checkpointCpuMs: number;
  readonly checkpointBytes: number;
}

interface Run extends Measured {
  readonly build: string;
  readonly backend: Backend;
  readonly round: number;
}

export async function runKvEngineBench(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      base: { type: "string" },
      rounds: { type: "string", default: "3" },
      puts: { type: "string", default: "120000" },
      warmup: { type: "string", default: "20000" },
      backends: { type: "string", default: "level,memory" },
      only: { type: "string" },
    },
  });
  const here = resolve(fileURLToPath(import.meta.url), "../../..");
  const builds: Build[] = [{ name: "this", dist: here }];
  if (values.base !== undefined) builds.unshift({ name: "base", dist: join(values.base, "dist") });
  const chosen = builds.filter((b) => values.only === undefined || b.name === values.only);
  const backends = values.backends.split(",").map((b) => b.trim() as Backend);
  const puts = Number(values.puts);
  const warmup = Number(values.warmup);
  console.log(
    `kv-engine: batches of ${BATCH} puts, ${KEYS} keys, ${VALUE_BYTES}-byte values; ` +
      `${integer.format(warmup)} warm-up + ${integer.format(puts)} measured puts per run; ` +
      `load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")}`,
  );
  const runs: Run[] = [];
  for (let round = 1; round <= Number(values.rounds); round++) {
    for (const backend of backends) {
      for (const build of chosen) {
        const run = {
          build: build.name,
          backend,
          round,
          ...(await measure(build, backend, warmup, puts)),
        };
        runs.push(run);
        console.log(
          `  #${round} ${backend.padEnd(6)} ${build.name.padEnd(4)} ${integer.format(run.putsPerSecond).padStart(8)} puts/s  ${run.cpuMicrosPerPut.toFixed(1).padStart(6)} CPU µs/put  checkpoint ${(run.checkpointBytes / 2 ** 20).toFixed(1)} MiB in ${integer.format(run.checkpointMs)} ms (${integer.format(run.checkpointCpuMs)} ms CPU)`,
        );
      }
    }
  }
  summarize(runs, backends, chosen);
  console.log(
    `load average at the end ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  return 0;
}

async function measure(
  build: Build,
  backend: Backend,
  warmup: number,
  puts: number,
): Promise<Measured> {
  const dir = await mkdtemp(join(tmpdir(), "stageraft-kv-bench-"));
  const engine = await makeEngine(build, backend, join(dir, "kv"));
  try {
    await engine.open();
    const next = xorshift(0x5eed);
    const value = "v".repeat(VALUE_BYTES);
    let index = 0;
    const apply = async (count: number) => {
      for (let done = 0; done < count; done += BATCH) {
        const commands: { index: number; command: KvCommand }[] = [];
        for (let k = 0; k < BATCH; k++) {
          const key = `key-${String(next() % KEYS).padStart(12, "0")}`;
          commands.push({ index: ++index, command: { op: "put", key, value } });
        }
        await engine.applyBatch(commands, index);
      }
    };
    await apply(warmup);
    const cpu = process.cpuUsage();
    const start = process.hrtime.bigint();
    await apply(puts);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const used = process.cpuUsage(cpu);
    // Then a checkpoint of what is there (the kept history included), as a snapshot takes one.
    const checkpointCpu = process.cpuUsage();
    const checkpointStart = process.hrtime.bigint();
    const checkpointBytes = await engine.checkpoint(join(dir, "kv.ckpt"));
    const checkpointUsed = process.cpuUsage(checkpointCpu);
    return {
      putsPerSecond: puts / seconds,
      cpuMicrosPerPut: (used.user + used.system) / puts,
      checkpointMs: Number(process.hrtime.bigint() - checkpointStart) / 1e6,
      checkpointCpuMs: (checkpointUsed.user + checkpointUsed.system) / 1000,
      checkpointBytes,
    };
  } finally {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function makeEngine(build: Build, backend: Backend, dir: string): Promise<KvEngine> {
  const module = (name: string) =>
    import(pathToFileURL(join(build.dist, "storage/engines", name)).href);
  if (backend === "memory") return new (await module("kv-memory.js")).MemoryKvEngine();
  return new (await module("kv-level.js")).LevelKvEngine(dir);
}

function summarize(runs: readonly Run[], backends: readonly Backend[], builds: readonly Build[]) {
  console.log("median (min–max) over rounds:");
  for (const backend of backends) {
    const of = (build: string) => runs.filter((r) => r.backend === backend && r.build === build);
    const line = builds.map((b) => {
      const rate = of(b.name).map((r) => r.putsPerSecond);
      const cpu = of(b.name).map((r) => r.cpuMicrosPerPut);
      const checkpoint = of(b.name).map((r) => r.checkpointCpuMs);
      return `${b.name} ${integer.format(median(rate))} puts/s (${integer.format(Math.min(...rate))}–${integer.format(Math.max(...rate))}), ${median(cpu).toFixed(1)} CPU µs/put (${Math.min(...cpu).toFixed(1)}–${Math.max(...cpu).toFixed(1)}), checkpoint ${integer.format(median(checkpoint))} ms CPU (${integer.format(Math.min(...checkpoint))}–${integer.format(Math.max(...checkpoint))})`;
    });
    const ratio =
      builds.length === 2
        ? `; this/base ${(median(of("this").map((r) => r.putsPerSecond)) / median(of("base").map((r) => r.putsPerSecond))).toFixed(2)}× puts/s, ${(median(of("this").map((r) => r.cpuMicrosPerPut)) / median(of("base").map((r) => r.cpuMicrosPerPut))).toFixed(2)}× CPU/put`
        : "";
    console.log(`  ${backend}: ${line.join("; ")}${ratio}`);
  }
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
