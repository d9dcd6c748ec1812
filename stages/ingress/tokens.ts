import type uWS from "uWebSockets.js";
import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Tokens at the node's doors: one comparison for the client port and the peer port, and the
 * rules of who may open what.
 */

/**
 * Whether a presented token is the expected one. Compares SHA-256 digests in constant time, so
 * that neither the token's content nor its length leaks by timing. A missing token never
 * matches.
 */
export function tokenMatches(given: string | null, expected: string): boolean {
  if (given === null) return false;
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** The client port's tokens (auth.clientToken, auth.adminToken); null: not set. */
export interface ClientTokens {
  readonly clientToken: string | null;
  readonly adminToken: string | null;
}

/** A request's token: its Bearer header, else (where `query`) its ?token=. */
export function requestToken(req: uWS.HttpRequest, query: boolean): string | null {
  const header = req.getHeader("authorization");
  const bearer = header.startsWith("Bearer ") ? header.slice(7) : null;
  return bearer ?? (query ? req.getQuery("token") || null : null);
}

/**
 * The rule of /v1 (and /dashboard/live): null when refused. Without an admin token every
 * admitted connection may use admin ops; without a client token anyone is admitted.
 */
export function clientAccess(
  token: string | null,
  tokens: ClientTokens,
): { admin: boolean } | null {
  const { clientToken, adminToken } = tokens;
  const admin =
    adminToken === null
      ? clientToken === null || tokenMatches(token, clientToken)
      : tokenMatches(token, adminToken);
  const allowed = admin || clientToken === null || tokenMatches(token, clientToken);
  return allowed ? { admin } : null;
}

/** auth.protectHttp's rule: the client or the admin token (a set one) is presented. */
export function holdsToken(token: string | null, tokens: ClientTokens): boolean {
  const { clientToken, adminToken } = tokens;
  if (clientToken !== null && tokenMatches(token, clientToken)) return true;
  return adminToken !== null && tokenMatches(token, adminToken);
}
