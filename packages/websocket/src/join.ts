/**
 * Joining messages into one byte stream (gorilla's `JoinMessages`).
 *
 * @module
 */

import { Readable } from 'node:stream';
import { CloseGoingAway, CloseNoStatusReceived, CloseNormalClosure } from './constants.js';
import type { Conn } from './conn.js';
import { isCloseError } from './errors.js';

/**
 * Returns a stream of the messages read from `conn`, each followed by `term`, streamed frame by
 * frame in constant memory. The stream ends when the peer closes normally (1000, 1001 or no code)
 * and fails with any other error. Gorilla: `JoinMessages`.
 *
 * @param conn - the connection to read.
 * @param term - bytes appended after each message (`''` for none).
 */
export function joinMessages(conn: Conn, term: string | Buffer = ''): Readable {
  const terminator = typeof term === 'string' ? Buffer.from(term, 'utf8') : term;
  async function* messages(): AsyncGenerator<Buffer> {
    for (;;) {
      let reader: Readable;
      try {
        ({ reader } = await conn.nextReader());
      } catch (err) {
        if (isCloseError(err, CloseNormalClosure, CloseGoingAway, CloseNoStatusReceived)) return;
        throw err;
      }
      for await (const chunk of reader) yield chunk as Buffer;
      if (terminator.length > 0) yield terminator;
    }
  }
  return Readable.from(messages(), { objectMode: false });
}
