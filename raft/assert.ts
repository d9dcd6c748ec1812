/** Programmer errors crash: a broken invariant in the core is never an operating error. */
export class AssertionError extends Error {
  override readonly name = "AssertionError";
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

export function assertNever(message: string, value: never): never {
  throw new AssertionError(`${message}: ${JSON.stringify(value)}`);
}
