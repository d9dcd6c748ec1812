/** A small parser of the Prometheus text exposition format (what prom-client writes). */

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Exposition {
  readonly help: ReadonlyMap<string, string>;
  readonly types: ReadonlyMap<string, string>;
  readonly samples: readonly Sample[];
}

const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const labelPair = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/y;

export function parseExposition(text: string): Exposition {
  const help = new Map<string, string>();
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const [k, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    if (line.startsWith("# HELP ")) {
      const [name, ...rest] = line.slice(7).split(" ");
      help.set(name!, rest.join(" "));
      continue;
    }
    if (line.startsWith("# TYPE ")) {
      const [name, type] = line.slice(7).split(" ");
      types.set(name!, type!);
      continue;
    }
    if (line.startsWith("#")) continue;
    const match = sampleLine.exec(line);
    if (match === null) throw new Error(`line ${k + 1} is not a sample: ${line}`);
    const labels: Record<string, string> = {};
    const body = match[2] ?? "";
    labelPair.lastIndex = 0;
    while (labelPair.lastIndex < body.length) {
      const pair = labelPair.exec(body);
      if (pair === null) throw new Error(`line ${k + 1}: bad labels: ${body}`);
      labels[pair[1]!] = pair[2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    }
    // Like Go's ParseFloat (what Prometheus uses): NaN and Inf in any case (prom-client: "Nan").
    const raw = match[3]!.toLowerCase();
    const value =
      raw === "+inf" || raw === "inf"
        ? Number.POSITIVE_INFINITY
        : raw === "-inf"
          ? Number.NEGATIVE_INFINITY
          : raw === "nan"
            ? Number.NaN
            : Number(raw);
    if (Number.isNaN(value) && raw !== "nan") throw new Error(`line ${k + 1}: bad value ${raw}`);
    samples.push({ name: match[1]!, labels, value });
  }
  return { help, types, samples };
}

/** The samples of one series name, optionally narrowed by labels. */
export function series(
  exposition: Exposition,
  name: string,
  labels: Record<string, string> = {},
): Sample[] {
  return exposition.samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}

/** The single value of a series, failing when it is absent or ambiguous. */
export function sampleValue(
  exposition: Exposition,
  name: string,
  labels: Record<string, string> = {},
): number {
  const found = series(exposition, name, labels);
  if (found.length !== 1)
    throw new Error(`${name} ${JSON.stringify(labels)}: ${found.length} samples, expected 1`);
  return found[0]!.value;
}
