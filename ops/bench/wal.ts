/**
 * npm run bench -- wal [--rounds 3] [--group-entries 1,64] [--groups 400] [--load-entries 1000000]
 *
 * The WAL alone, in this process: group commits of N entries of 256-byte data with fsync on
 * (entries/s and CPU µs per entry, the process's CPU including LevelDB's threads), and the time
 * to open and load a WAL of --load-entries entries, for the LevelDB WAL and the segment WAL
 * side by side in each round (the order alternates by round). Prints medians, the spread over
 * the rounds, the ratios, and the load average. Not a test: it measures and prints.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import { chainChecksum } from "../../raft/checksum.js";
import { type Entry, EntryType } from "../../raft/types.js";
import type { OpenedLogStore } from "../../storage/wal-open.js";
import { openLogStore, type WalEngine } from "../../storage/wal-open.js";
import { describeMachine, machineInfo, table } from "./report.js";

const ENGINES: readonly WalEngine[] = ["level", "segments"];
const DATA_BYTES = 256;

interface Options {
  rounds: number;
  groupEntries: number[];
  groups: number;
  loadEntries: number;
}

/** Entries after `prev`, chained (the load checks the chain), with 256 bytes of data each. */
function makeEntries(prev: { index: number; chk: number }, n: number): Entry[] {
  const out: Entry[] = [];
  let previous = prev;
  for (let k = 0; k < n; k++) {
    const data = new Uint8Array(DATA_BYTES);
    data.fill(previous.index & 0xff);
    const index = previous.index + 1;
    const chk = chainChecksum(previous.chk, 1, index, EntryType.normal, data);
    const entry = { term: 1, index, type: EntryType.normal, data, chk };
    out.push(entry);
    previous = entry;
  }
  return out;
}

async function openEngine(dir: string, engine: WalEngine, sync: boolean) {
  const wal = await openLogStore(dir, { engine, sync });
  await wal.load();
  return wal;
}

/** Group commits with fsync: entries/s and CPU µs per entry over the writes only. */
async function appendRun(engine: WalEngine, perGroup: number, groups: number) {
  const dir = await mkdtemp(join(os.tmpdir(), `stageraft-walbench-${engine}-`));
  const wal = await openEngine(dir, engine, true);
  let prev = { index: 0, chk: 0 };
  let wallNs = 0n;
  let cpuUs = 0;
  for (let g = 0; g < groups; g++) {
    const entries = makeEntries(prev, perGroup);
    prev = entries.at(-1)!;
    const cpu = process.cpuUsage();
    const start = process.hrtime.bigint();
    await wal.write([
      { hardState: { term: 1, vote: "n1", commit: prev.index - 1 }, snapshot: null, entries },
    ]);
    wallNs += process.hrtime.bigint() - start;
    const used = process.cpuUsage(cpu);
    cpuUs += used.user + used.system;
  }
  await wal.close();
  await rm(dir, { recursive: true, force: true });
  const total = perGroup * groups;
  return { entriesPerS: total / (Number(wallNs) / 1e9), cpuUsPerEntry: cpuUs / total };
}

/** Fill a WAL (sync off), close it, then time open + load. */
async function loadRun(engine: WalEngine, n: number) {
  const dir = await mkdtemp(join(os.tmpdir(), `stageraft-walbench-${engine}-`));
  let wal: OpenedLogStore = await openEngine(dir, engine, false);
  let prev = { index: 0, chk: 0 };
  for (let written = 0; written < n; written += 4096) {
    const entries = makeEntries(prev, Math.min(4096, n - written));
    prev = entries.at(-1)!;
    await wal.write([
      { hardState: { term: 1, vote: "n1", commit: prev.index }, snapshot: null, entries },
    ]);
  }
  await wal.close();
  global.gc?.();
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  wal = await openLogStore(dir, { engine, sync: true });
  const loaded = await wal.load();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const used = process.cpuUsage(cpu);
  if (loaded.entries.length !== n)
    throw new Error(`${engine}: loaded ${loaded.entries.length} of ${n}`);
  await wal.close();
  await rm(dir, { recursive: true, force: true });
  return { seconds, cpuSeconds: (used.user + used.system) / 1e6 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const spread = (xs: number[], digits: number) =>
  `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;

function parse(argv: readonly string[]): Options | string {
  const options: Options = {
    rounds: 3,
    groupEntries: [1, 64],
    groups: 400,
    loadEntries: 1_000_000,
  };
  for (let k = 0; k < argv.length; k++) {
    const value = argv[k + 1] ?? "";
    const count = Number(value);
    switch (argv[k]) {
      case "--rounds":
        options.rounds = count;
        break;
      case "--groups":
        options.groups = count;
        break;
      case "--load-entries":
        options.loadEntries = count;
        break;
      case "--group-entries":
        options.groupEntries = value.split(",").map(Number);
        if (options.groupEntries.some((n) => !Number.isSafeInteger(n) || n < 1))
          return "--group-entries wants counts >= 1, e.g. 1,64";
        k++;
        continue;
      default:
        return `unknown option ${argv[k]}`;
    }
    if (!Number.isSafeInteger(count) || count < 1) return `${argv[k]} wants a count >= 1`;
    k++;
  }
  return options;
}

export async function runWalBench(argv: readonly string[]): Promise<number> {
  const options = parse(argv);
  if (typeof options === "string") {
    process.stderr.write(`bench wal: ${options}\n`);
    return 2;
  }
  for (const line of describeMachine(machineInfo(os.tmpdir()))) process.stdout.write(`${line}\n`);
  const appends: Figures = new Map();
  const loads = new Map<WalEngine, { wall: number[]; cpu: number[] }>();
  for (let round = 0; round < options.rounds; round++) {
    const order = round % 2 === 0 ? ENGINES : [...ENGINES].reverse();
    for (const perGroup of options.groupEntries) {
      for (const engine of order) {
        const r = await appendRun(engine, perGroup, options.groups);
        const key = `${engine}/${perGroup}`;
        const figures = appends.get(key) ?? { rate: [], cpu: [] };
        figures.rate.push(r.entriesPerS);
        figures.cpu.push(r.cpuUsPerEntry);
        appends.set(key, figures);
      }
    }
    for (const engine of order) {
      const r = await loadRun(engine, options.loadEntries);
      const figures = loads.get(engine) ?? { wall: [], cpu: [] };
      figures.wall.push(r.seconds);
      figures.cpu.push(r.cpuSeconds);
      loads.set(engine, figures);
    }
    process.stdout.write(
      `round ${round + 1} of ${options.rounds} done, load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")}\n`,
    );
  }
  report(options, appends, loads);
  return 0;
}

type Figures = Map<string, { rate: number[]; cpu: number[] }>;

function report(
  options: Options,
  appends: Figures,
  loads: Map<WalEngine, { wall: number[]; cpu: number[] }>,
): void {
  const appendRows = options.groupEntries.flatMap((perGroup) => {
    const level = appends.get(`level/${perGroup}`)!;
    const segs = appends.get(`segments/${perGroup}`)!;
    return ENGINES.map((engine) => {
      const f = appends.get(`${engine}/${perGroup}`)!;
      return [
        String(perGroup),
        engine,
        median(f.rate).toFixed(0),
        spread(f.rate, 0),
        median(f.cpu).toFixed(1),
        spread(f.cpu, 1),
        engine === "segments"
          ? `${(median(segs.rate) / median(level.rate)).toFixed(2)}x rate, ${(median(segs.cpu) / median(level.cpu)).toFixed(2)}x CPU`
          : "",
      ];
    });
  });
  process.stdout.write(
    `\ngroup commits, fsync on, ${options.groups} groups per run, ${DATA_BYTES}-byte entries (median of ${options.rounds}, spread min–max):\n`,
  );
  process.stdout.write(
    `${table(["entries/group", "WAL", "entries/s", "spread", "CPU µs/entry", "spread", "segments vs level"], appendRows)}\n`,
  );
  const level = loads.get("level")!;
  const segs = loads.get("segments")!;
  const loadRows = ENGINES.map((engine) => {
    const f = loads.get(engine)!;
    return [
      engine,
      median(f.wall).toFixed(2),
      spread(f.wall, 2),
      median(f.cpu).toFixed(2),
      engine === "segments" ? `${(median(segs.wall) / median(level.wall)).toFixed(2)}x time` : "",
    ];
  });
  process.stdout.write(`\nopen + load of ${options.loadEntries} entries:\n`);
  process.stdout.write(
    `${table(["WAL", "seconds", "spread", "CPU s", "segments vs level"], loadRows)}\n`,
  );
  process.stdout.write(
    `load average at the end: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}\n`,
  );
}
