import { it } from "vitest";
import { type Lab, type LabConfig, runLab } from "./lab-harness.js";

/** LAB_SEEDS="1-200" or "4,17" replaces every scenario's fixed seeds (a longer sweep). */
function seedsFromEnv(): number[] | null {
  const spec = process.env.LAB_SEEDS;
  if (!spec) return null;
  return spec.split(",").flatMap((part) => {
    const [lo, hi] = part.split("-").map(Number);
    if (hi === undefined) return [lo!];
    return Array.from({ length: hi - lo! + 1 }, (_, k) => lo! + k);
  });
}

/** One vitest test per seed, named `${title} [seed N]`; failures carry the seed and the trace. */
export function labTest(
  title: string,
  seeds: readonly number[],
  config: LabConfig,
  body: (lab: Lab) => void,
): void {
  for (const seed of seedsFromEnv() ?? seeds) {
    it(`${title} [seed ${seed}]`, () => void runLab(title, seed, config, body));
  }
}
