/**
 * What the framework chats' sign-ins share: the rule for names, session tokens and reading a
 * cookie. Each chat keeps its framework's own way of setting the cookie.
 *
 * @module
 */

import { randomBytes } from 'node:crypto';

const NAME = /^[\p{L}\p{N} ._-]{1,32}$/u;

/** The answer (with status 400) to a sign-in whose name breaks the rule {@link chatName} checks. */
export const NAME_RULE = 'A name is 1 to 32 letters, digits, spaces, . _ or -\n';

/**
 * The name a sign-in form gave, trimmed, when it is a valid chat name: 1 to 32 letters, digits,
 * spaces, dots, underscores or hyphens. `undefined` for anything else, a missing or non-string
 * value included.
 */
export function chatName(given: unknown): string | undefined {
  const name = typeof given === 'string' ? given.trim() : '';
  return NAME.test(name) ? name : undefined;
}

/** A new session token: 144 random bits, base64url-encoded (24 characters). */
export function newSessionToken(): string {
  return randomBytes(18).toString('base64url');
}

/**
 * The value of the cookie `name` in a request's `Cookie` header (RFC 6265 section 5.4), or
 * `undefined` when it has none.
 */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const pair of (header ?? '').split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
  }
  return undefined;
}
