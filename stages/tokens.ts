import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Whether a presented token is the expected one. Compares SHA-256 digests in constant time, so
 * that neither the token's content nor its length leaks by timing. Used by every door that
 * checks a token (the client port and the peer port). A missing token never matches.
 */
export function tokenMatches(given: string | null, expected: string): boolean {
  if (given === null) return false;
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
