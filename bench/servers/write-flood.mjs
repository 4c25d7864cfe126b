// The server side of the connections bench's `write-flood` case: a connection opened on
// `/write-flood?count=N&size=S` is sent N text messages of S bytes at once, none of them awaited,
// while its peer reads nothing. The parent reads the peak RSS from outside once the server says
// the writes are made.
import process from 'node:process';
import { setImmediate } from 'node:timers';
import { URLSearchParams } from 'node:url';

/**
 * The flood a request asks for, or null for an ordinary connection.
 *
 * @param {string | undefined} url
 * @returns {{ count: number, message: string } | null}
 */
export function floodRequest(url) {
  if (url === undefined || !url.startsWith('/write-flood?')) return null;
  const query = new URLSearchParams(url.slice(url.indexOf('?') + 1));
  return {
    count: Number(query.get('count') ?? 500_000),
    message: 'x'.repeat(Number(query.get('size') ?? 32)),
  };
}

/**
 * Tells the parent the writes are made, once the event loop has turned (the frames handed to the
 * socket), with what the connection reports as buffered.
 *
 * @param {number} bufferedAmount
 */
export function reportFlood(bufferedAmount) {
  setImmediate(() => process.send({ type: 'write-flood:done', bufferedAmount }));
}
