/** One step of a stop: closing a stage, a pool or a store. Run in order by src/shutdown.ts. */
export interface Closer {
  readonly name: string;
  close(): Promise<void> | void;
  /** What the step waits for: logged if the stop's deadline passes during it. */
  pending?(): Record<string, unknown>;
}
