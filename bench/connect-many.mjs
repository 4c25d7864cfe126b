// Opening many client connections at once, within what the server's listen backlog and this
// process's descriptor limit allow. Shared by the load generator and the connections bench.
import { readFileSync } from 'node:fs';

/**
 * Connections opened at once: more would overflow the server's listen backlog (511 for Node's
 * servers) and leave the rest to SYN retransmits, a second or more each.
 */
const CONNECT_CONCURRENCY = 100;

/**
 * Runs `open` `count` times, at most CONNECT_CONCURRENCY at once; resolves to the results in
 * order, or rejects with the first failure.
 *
 * @template T
 * @param {number} count
 * @param {() => Promise<T>} open
 * @returns {Promise<T[]>}
 */
export async function openAll(count, open) {
  const results = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await open();
    }
  };
  await Promise.all(Array.from({ length: Math.min(count, CONNECT_CONCURRENCY) }, worker));
  return results;
}

/**
 * Fails early, with a clear message, when this process may not open a socket per connection.
 * Node raises its own soft limit on open files to the hard limit when it starts, so there is
 * nothing left to raise from inside the process; the hard limit is the shell's (`ulimit -Hn`).
 *
 * @param {number} connections
 * @throws {Error} when the limit is too low.
 */
export function checkDescriptorLimit(connections) {
  let limits;
  try {
    limits = readFileSync('/proc/self/limits', 'latin1');
  } catch {
    return; // not Linux: the connections themselves will say if the limit is too low
  }
  const soft = Number(/^Max open files\s+(\S+)/m.exec(limits)?.[1]);
  // A few descriptors are Node's own (stdio, IPC, the event loop's).
  const needed = connections + 32;
  if (Number.isFinite(soft) && soft < needed) {
    throw new Error(
      `${connections} connections need about ${needed} open files, this process may open ` +
        `${soft}; raise the hard limit (ulimit -Hn) in the shell that runs the bench`,
    );
  }
}
