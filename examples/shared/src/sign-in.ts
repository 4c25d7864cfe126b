/**
 * What the framework chats' sign-ins share: the rule for names, and the sessions of the chats
 * that keep them in memory.
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

/** The name of the session cookie of the chats that keep their sessions in {@link Sessions}. */
export const SESSION_COOKIE = 'chat_session';

/**
 * The signed-in users of a chat by session token, kept in memory (the Express and Fastify chats;
 * the Koa chat signs its cookie instead). Each chat sets the cookie in its framework's own way.
 */
export class Sessions extends Map<string, string> {
  /**
   * Starts a session for `name` and returns its token, the value of the {@link SESSION_COOKIE}
   * cookie: 144 random bits, base64url-encoded.
   */
  start(name: string): string {
    const token = randomBytes(18).toString('base64url');
    this.set(token, name);
    return token;
  }

  /** The user whose session token the {@link SESSION_COOKIE} cookie of a `Cookie` header holds. */
  userOf(cookieHeader: string | undefined): string | undefined {
    const token = cookieValue(cookieHeader, SESSION_COOKIE);
    return token === undefined ? undefined : this.get(token);
  }
}

// The value of the cookie `name` in a Cookie header (RFC 6265 section 5.4), or undefined.
function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const pair of (header ?? '').split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
  }
  return undefined;
}
