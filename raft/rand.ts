/** The only randomness the core sees: a seeded source handed in by its owner. */
export interface RandomSource {
  /** A uniform integer in [0, bound). */
  int(bound: number): number;
}

/** SplitMix32-style PRNG: deterministic for a seed, fast, good enough for timeouts and faults. */
export class SeededRandom implements RandomSource {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next32(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  }

  /** A uniform float in [0, 1). */
  float(): number {
    return this.next32() / 0x1_0000_0000;
  }

  int(bound: number): number {
    return Math.floor(this.float() * bound);
  }

  chance(probability: number): boolean {
    return probability > 0 && this.float() < probability;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new Error("pick from an empty list");
    return item;
  }
}
