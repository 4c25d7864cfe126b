/**
 * One run of the command for one connection: its stdout and stderr go to the browser line by
 * line, the browser's messages go to its stdin (gorilla's `pumpStdout`, `pumpStdin` and
 * `serveWs`).
 *
 * @module
 */

import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import {
  CloseInternalServerErr,
  CloseNormalClosure,
  TextMessage,
  type Conn,
} from '@silverback/websocket';

/** Time allowed to write a line to the peer, in milliseconds. Gorilla: `writeWait`. */
export const writeWait = 10_000;

/** The largest message the peer may send, in bytes. Gorilla: `maxMessageSize`. */
export const maxMessageSize = 8192;

/**
 * How long the command may take to exit after SIGINT before what is left of its process tree gets
 * SIGTERM, and that SIGKILL, in milliseconds.
 */
export const killWait = 1000;

/**
 * The longest line sent as one message; a longer one is sent in pieces of this many characters.
 * Gorilla's line scanner stops at 64 KiB; this keeps going.
 */
export const maxLineLength = 64 * 1024;

/** How a command ended. */
export interface CommandExit {
  /** Its process id. */
  pid: number;
  /** Its exit code, or `null` when a signal ended it. */
  code: number | null;
  /** The signal that ended it, or `null`. */
  signal: NodeJS.Signals | null;
}

type Child = ChildProcessByStdio<Writable, Readable, Readable>;

/**
 * Runs `command` with `args` for `conn` until one side ends, then ends the other: when the
 * command closes its output the connection is closed (1000); when the connection ends (the page
 * went away) the command's stdin is closed and its whole process tree is ended: SIGINT, then
 * after {@link killWait} SIGTERM for what is left (a shell's background jobs ignore SIGINT), then
 * SIGKILL. The command runs in a process group of its own, so that the tree can be found. Resolves
 * with how the command ended once it has exited and the connection is closed, or with `null`
 * when the command could not start (the peer gets "Internal server error." and 1011).
 * Never rejects.
 */
export async function runCommand(
  conn: Conn,
  command: string,
  args: readonly string[],
  log: (line: string) => void = () => {},
): Promise<CommandExit | null> {
  // A process group of its own (setsid), so that its children and theirs end with it.
  const child: Child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  try {
    await once(child, 'spawn');
  } catch (err) {
    log(`start: ${(err as Error).message}`);
    await conn.writeMessage(TextMessage, 'Internal server error.').catch(() => {});
    await conn.closeGracefully(CloseInternalServerErr, 'command failed to start', writeWait);
    return null;
  }
  const pid = child.pid!;
  // The pipes fail with EPIPE when the command exits first; the pumps see it as an ending.
  child.stdin.on('error', () => {});

  const output = Promise.all([
    pumpLines(child.stdout, conn, log),
    pumpLines(child.stderr, conn, log),
  ]).then(() => conn.closeGracefully(CloseNormalClosure, '', writeWait));

  await pumpInput(conn, child.stdin, log);

  // Some commands exit when their stdin closes; the others get a tap, then harder ones.
  child.stdin.end();
  const { code, signal } = await endProcessGroup(pid, exited);
  await output;
  log(`exit: pid ${pid}, ${signal ?? `code ${String(code)}`}`);
  return { pid, code, signal };
}

// Gorilla: pumpStdin. Ends when the connection does (quietly on a normal close) or stdin fails.
async function pumpInput(conn: Conn, stdin: Writable, log: (line: string) => void): Promise<void> {
  conn.setReadLimit(maxMessageSize);
  try {
    for await (const { data } of conn) {
      await new Promise<void>((resolve, reject) =>
        stdin.write(Buffer.concat([data, NEWLINE]), (err) => (err ? reject(err) : resolve())),
      );
    }
  } catch (err) {
    log(`stdin: ${(err as Error).message}`);
  }
}

// Gorilla: pumpStdout. Sends each line as a text message, waiting for the connection to take it
// before reading more, so a slow browser slows the command instead of filling memory.
async function pumpLines(output: Readable, conn: Conn, log: (line: string) => void): Promise<void> {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  const send = async (line: string): Promise<void> => {
    conn.setWriteDeadline(Date.now() + writeWait);
    await conn.writeMessage(TextMessage, line.endsWith('\r') ? line.slice(0, -1) : line);
  };
  try {
    for await (const chunk of output as AsyncIterable<Buffer>) {
      pending += decoder.write(chunk);
      let start = 0;
      for (let end = pending.indexOf('\n'); end >= 0; end = pending.indexOf('\n', start)) {
        await send(pending.slice(start, end));
        start = end + 1;
      }
      pending = pending.slice(start);
      while (pending.length >= maxLineLength) {
        await send(pending.slice(0, maxLineLength));
        pending = pending.slice(maxLineLength);
      }
    }
    pending += decoder.end();
    if (pending !== '') await send(pending);
  } catch (err) {
    // The connection is gone; stop reading so the command gets the signal to end.
    log(`output: ${(err as Error).message}`);
    output.destroy();
  }
}

const NEWLINE = Buffer.from('\n');

/**
 * Ends the process group `pgid` (the command and everything it started): SIGINT; once the command
 * has exited, or after {@link killWait}, SIGTERM for what is left; after another `killWait`,
 * SIGKILL. Resolves with how the command itself ended.
 */
async function endProcessGroup<T>(pgid: number, exited: Promise<T>): Promise<T> {
  signalGroup(pgid, 'SIGINT');
  await Promise.race([exited, delay(killWait)]);
  if (signalGroup(pgid, 'SIGTERM')) {
    for (let waited = 0; waited < killWait && groupAlive(pgid); waited += GROUP_POLL) {
      await delay(GROUP_POLL);
    }
    signalGroup(pgid, 'SIGKILL');
  }
  return exited;
}

const GROUP_POLL = 20;

// Sends `signal` to every process of the group; false when none is left.
function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // ESRCH: the group is gone
  }
}

function groupAlive(pgid: number): boolean {
  return signalGroup(pgid, 0); // signal 0: only asks whether the group exists
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
