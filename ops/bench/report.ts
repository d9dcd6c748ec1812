/** The machine description and the text tables of the bench. */
import { execFileSync } from "node:child_process";
import os from "node:os";

export interface DiskInfo {
  readonly path: string;
  readonly filesystem: string;
  readonly type: string;
  readonly size: string;
  readonly available: string;
  readonly mountedOn: string;
}

export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly ramGiB: number;
  readonly os: string;
  readonly node: string;
  readonly loadAverage: readonly number[];
  readonly disk: DiskInfo | { readonly path: string; readonly error: string };
}

/** `df` of the directory the data dirs are made in. */
export function diskOf(path: string): MachineInfo["disk"] {
  try {
    const text = execFileSync("df", ["-PTh", path], { encoding: "utf8", timeout: 5_000 });
    const line = text.trim().split("\n")[1] ?? "";
    const [filesystem, type, size, , available, , ...mount] = line.split(/\s+/);
    return {
      path,
      filesystem: filesystem ?? "?",
      type: type ?? "?",
      size: size ?? "?",
      available: available ?? "?",
      mountedOn: mount.join(" ") || "?",
    };
  } catch (error) {
    return { path, error: `df failed: ${(error as Error).message.split("\n")[0]}` };
  }
}

export function machineInfo(dataParent: string): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    cores: cpus.length,
    ramGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadAverage: os.loadavg().map((value) => Math.round(value * 100) / 100),
    disk: diskOf(dataParent),
  };
}

export function describeMachine(machine: MachineInfo): string[] {
  const disk = machine.disk;
  const lines = [
    `machine:  ${machine.cpuModel}, ${machine.cores} logical cores, ${machine.ramGiB} GiB RAM, ${machine.os}, Node ${machine.node}, load average ${machine.loadAverage.join(" ")}`,
  ];
  if ((machine.loadAverage[0] ?? 0) > machine.cores / 2)
    lines.push(
      `WARNING:  the machine is busy before the start (1-min load average ${machine.loadAverage[0]} on ${machine.cores} cores): expect noisy figures`,
    );
  if ("error" in disk) lines.push(`disk:     ${disk.path}: ${disk.error}`);
  else {
    lines.push(
      `disk:     data dirs under ${disk.path}: ${disk.filesystem} (${disk.type}), ${disk.size}, ${disk.available} free, mounted on ${disk.mountedOn}`,
    );
    if (/^(tmpfs|ramfs)$/.test(disk.type))
      lines.push(
        "WARNING:  the data dirs are on a RAM file system: fsync costs nothing there; use --data-dir on a real disk",
      );
  }
  return lines;
}

export const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "-";
  if (value >= 100) return `${value.toFixed(0)} ms`;
  if (value >= 10) return `${value.toFixed(1)} ms`;
  return `${value.toFixed(2)} ms`;
}

/** A plain text table: the first column left-aligned, the others right-aligned. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((cell, column) =>
    Math.max(cell.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const format = (row: readonly string[]) =>
    row
      .map((cell, column) =>
        column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!),
      )
      .join("  ")
      .trimEnd();
  const rule = widths.map((width) => "-".repeat(width)).join("  ");
  return [format(header), rule, ...rows.map(format)].map((line) => `  ${line}`).join("\n");
}
