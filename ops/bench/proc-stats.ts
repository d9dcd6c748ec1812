/** CPU and memory of processes, from /proc (Linux; null elsewhere). */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

let clockTicks: number | null = null;
function ticksPerSecond(): number {
  if (clockTicks === null) {
    try {
      clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    } catch {
      clockTicks = 100;
    }
    if (!Number.isFinite(clockTicks) || clockTicks <= 0) clockTicks = 100;
  }
  return clockTicks;
}

/** CPU seconds (user + system, all threads) a process has used, from /proc; null elsewhere. */
export function cpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
  } catch {
    return null;
  }
}

/**
 * CPU seconds every process on the machine has used (user, nice and system time of all cores,
 * from /proc/stat; interrupt and steal time are left out, as no process is charged for them).
 */
export function machineBusySeconds(): number | null {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
    const [label, user, nice, system] = line.trim().split(/\s+/);
    if (label !== "cpu") return null;
    const busy = Number(user) + Number(nice) + Number(system);
    return Number.isFinite(busy) ? busy / ticksPerSecond() : null;
  } catch {
    return null;
  }
}

/** Resident memory of a process, KiB, from /proc/<pid>/status. */
export interface ProcMemory {
  /** VmRSS: resident now. */
  readonly rssKiB: number;
  /** VmHWM: the most it was ever resident (the high-water mark over its life). */
  readonly hwmKiB: number;
}

/** VmRSS and VmHWM from the text of /proc/<pid>/status; null when either is missing. */
export function parseProcStatus(text: string): ProcMemory | null {
  const field = (name: string): number | null => {
    const match = new RegExp(`^${name}:\\s+(\\d+)\\s+kB\\s*$`, "m").exec(text);
    return match === null ? null : Number(match[1]);
  };
  const rssKiB = field("VmRSS");
  const hwmKiB = field("VmHWM");
  if (rssKiB === null || hwmKiB === null) return null;
  return { rssKiB, hwmKiB };
}

export function memoryOf(pid: number | undefined): ProcMemory | null {
  if (pid === undefined) return null;
  try {
    return parseProcStatus(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return null;
  }
}

/**
 * Samples VmRSS of some processes every `intervalMs` while it runs: the most each was resident
 * during a phase (VmHWM alone covers the process's whole life, warm-up and load step included).
 */
export class RssSampler {
  private readonly maxKiB: (number | null)[];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pids: () => readonly (number | undefined)[],
    intervalMs = 200,
  ) {
    this.maxKiB = pids().map(() => null);
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    this.pids().forEach((pid, k) => {
      const memory = memoryOf(pid);
      if (memory !== null) this.maxKiB[k] = Math.max(this.maxKiB[k] ?? 0, memory.rssKiB);
    });
  }

  /** Stop sampling; the maximum VmRSS of each process, MiB (null: never read). */
  stop(): (number | null)[] {
    this.sample();
    clearInterval(this.timer);
    return this.maxKiB.map((kib) => (kib === null ? null : Math.round(kib / 102.4) / 10));
  }
}
