/**
 * Programmer errors crash: a broken invariant in the SEDA machinery is never an operating error.
 * queues/ imports nothing from our other folders, so it keeps its own copy of the assert.
 */
export class AssertionError extends Error {
  override readonly name = "AssertionError";
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}
