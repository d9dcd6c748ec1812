/** The last events of a run, kept in a ring so a failing seed can show how it got there. */
export class Trace {
  private readonly ring: string[];
  private next = 0;
  private count = 0;
  /** Echo every event to this sink as it happens (remu --verbose). */
  sink: ((line: string) => void) | null = null;

  constructor(readonly capacity = 400) {
    this.ring = new Array<string>(capacity);
  }

  add(timeMs: number, line: string): void {
    const text = `t=${timeMs.toString().padStart(7)}ms ${line}`;
    this.ring[this.next] = text;
    this.next = (this.next + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
    this.sink?.(text);
  }

  lines(): string[] {
    const out: string[] = [];
    for (let k = 0; k < this.count; k++) {
      out.push(this.ring[(this.next - this.count + k + this.capacity) % this.capacity]!);
    }
    return out;
  }
}
